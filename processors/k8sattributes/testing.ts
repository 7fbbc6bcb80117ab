/** Test helpers for k8sattributes: flows, a processor wired to a recorder, logs captured as text. */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { metrics, type Meter } from '@opentelemetry/api';
import type { ComponentSettings } from '../../pipeline/component.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { RecordingConsumer } from '../../pipeline/testing.ts';
import { configSchema } from './config.ts';
import { K8sAttributesProcessor, type K8sAttributesOptions } from './processor.ts';

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

export function harness(
  config: Record<string, unknown>,
  options: K8sAttributesOptions = { backoffInitialMs: 50, backoffMaxMs: 200 },
  meter: Meter = metrics.getMeter('zonetap-test'),
): Harness {
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const settings: ComponentSettings = { id: 'k8sattributes', kind: 'processor', logger: pino({ level: 'debug' }, stream), meter, reportSendFailure: () => {} };
  const out = new RecordingConsumer();
  const processor = new K8sAttributesProcessor(settings, configSchema.parse(config), out, options);
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

/** Retries `check` until it stops throwing (watch events arrive asynchronously). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/** The endpoint without its undefined fields (resolved ends carry every field, undefined when unknown) and without its identity (a number that depends on test order). */
export function known(ep: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(ep).filter(([k, v]) => v !== undefined && k !== 'identity'));
}
