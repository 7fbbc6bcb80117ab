import type { ProcessorFactory } from '../../pipeline/component.ts';
import { configSchema, type K8sAttributesConfig } from './config.ts';
import { K8sAttributesProcessor } from './processor.ts';

export const k8sattributesProcessorFactory: ProcessorFactory<K8sAttributesConfig> = {
  kind: 'processor',
  type: 'k8sattributes',
  stability: 'beta',
  description: 'Names both ends of every flow: namespace, pod, workload, node, zone, region (Kubernetes API or static inventory).',
  configSchema,
  create: (settings, config, next) => new K8sAttributesProcessor(settings, config, next),
};
