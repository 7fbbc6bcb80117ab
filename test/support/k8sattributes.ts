/** Test support for k8sattributes: flows between addresses, a processor wired to a recorder with its logs kept as text. */
import { metrics, type Meter } from '@opentelemetry/api';
import type { ComponentSettings } from '../../pipeline/component.ts';
import { ColumnBatch, columnsFromRecords } from '../../pipeline/columns.ts';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import { configSchema } from '../../processors/k8sattributes/config.ts';
import { K8sAttributesProcessor, type K8sAttributesOptions } from '../../processors/k8sattributes/processor.ts';
import { capturedLogger, RecordingConsumer } from './components.ts';

export function flow(src: string, dst: string, bytes = 100): FlowRecord {
  return {
    src: { address: src, port: 40000 },
    dst: { address: dst, port: 8080 },
    transport: 'tcp',
    ipFamily: src.includes(':') ? 'ipv6' : 'ipv4',
    bytes,
    packets: 1,
  };
}

export interface Harness {
  processor: K8sAttributesProcessor;
  out: RecordingConsumer;
  logs: string[];
  /** Runs one batch of fresh flows and returns the records that came out. */
  run(...flows: Array<[string, string] | [string, string, number]>): Promise<FlowRecord[]>;
}

/**
 * ZT_K8SATTRIBUTES_INPUT=columns: harnesses that do not say otherwise hand
 * their processor every batch of records as columns (a ColumnBatch, as the
 * kernel receivers hand them on), so the k8sattributes tests run on the
 * columnar path too (processors/k8sattributes/columns.test.ts runs them so).
 */
const columnsByDefault = process.env.ZT_K8SATTRIBUTES_INPUT === 'columns';

export interface HarnessOptions extends K8sAttributesOptions {
  /** True: batches of records reach the processor as columns; false: as they are. Default: ZT_K8SATTRIBUTES_INPUT is `columns`. */
  columns?: boolean;
}

export function harness(
  config: Record<string, unknown>,
  options: HarnessOptions = { backoffInitialMs: 50, backoffMaxMs: 200 },
  meter: Meter = metrics.getMeter('zonetap-test'),
): Harness {
  const { logger, lines: logs } = capturedLogger('debug');
  const settings: ComponentSettings = { id: 'k8sattributes', kind: 'processor', logger, meter, reportSendFailure: () => {} };
  const out = new RecordingConsumer();
  const { columns = columnsByDefault, ...processorOptions } = options;
  const processor = new K8sAttributesProcessor(settings, configSchema.parse(config), out, processorOptions);
  if (columns) {
    const consume = processor.consume.bind(processor);
    processor.consume = (b: FlowBatch) => consume(b.columns !== undefined ? b : new ColumnBatch(b.start, b.end, columnsFromRecords(b.records)));
  }
  return {
    processor,
    out,
    logs,
    async run(...flows) {
      const before = out.batches.length;
      await processor.consume({ start: 0, end: 1, records: flows.map(([s, d, b]) => flow(s, d, b)) });
      return out.batches.slice(before).flatMap((b) => b.records);
    },
  };
}

/** The endpoint without its undefined fields (resolved ends carry every field, undefined when unknown) and without its identity (a number that depends on test order). */
export function known(ep: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(ep).filter(([k, v]) => v !== undefined && k !== 'identity'));
}
