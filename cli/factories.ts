/** Every component type built into zonetap. Add a factory here to make it available to configs. */
import type { Factory } from '../pipeline/component.ts';
import { netfilterReceiverFactory } from '../receivers/netfilter/index.ts';
import { cgroupReceiverFactory } from '../receivers/cgroup/index.ts';
import { prometheusExporterFactory } from '../exporters/prometheus/index.ts';
import { otlpExporterFactory } from '../exporters/otlp/index.ts';
import { otlpReceiverFactory } from '../receivers/otlp/index.ts';
import { k8sattributesProcessorFactory } from '../processors/k8sattributes/index.ts';
import { replayReceiverFactory } from '../receivers/replay/index.ts';
import { flowlogExporterFactory } from '../exporters/flowlog/index.ts';
import { consoleExporterFactory } from '../exporters/console/index.ts';
import { crosszoneProcessorFactory } from '../processors/crosszone/index.ts';
import { aggregateProcessorFactory } from '../processors/aggregate/index.ts';
import { costProcessorFactory } from '../processors/cost/index.ts';

export const FACTORIES: readonly Factory[] = [
  netfilterReceiverFactory,
  cgroupReceiverFactory,
  prometheusExporterFactory,
  otlpExporterFactory,
  otlpReceiverFactory,
  k8sattributesProcessorFactory,
  replayReceiverFactory,
  flowlogExporterFactory,
  consoleExporterFactory,
  crosszoneProcessorFactory,
  aggregateProcessorFactory,
  costProcessorFactory,
];
