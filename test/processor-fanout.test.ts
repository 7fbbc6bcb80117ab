/**
 * Every built-in processor behind a fan-out, beside a read-only sibling, as
 * the graph wires a receiver that feeds two pipelines: the sibling's input
 * must be exactly what was sent, whatever the processor does. A processor that
 * changes batches in place but declares `mutatesData: false` fails here, so
 * that mistake cannot corrupt another pipeline's input unnoticed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FACTORIES } from '../cli/factories.ts';
import type { ProcessorFactory } from '../pipeline/component.ts';
import { fanout } from '../pipeline/fanout.ts';
import type { FlowBatch, FlowRecord } from '../pipeline/flow.ts';
import { Lifecycle, contextWithTimeout } from '../pipeline/lifecycle.ts';
import { RecordingConsumer, testSettings } from './support/components.ts';

const INVENTORY = new URL('../config/inventory.example.yaml', import.meta.url).pathname;

/** A config for each built-in processor type; a new processor must be added here. */
const CONFIGS: Record<string, unknown> = {
  k8sattributes: { source: 'static', inventory: INVENTORY },
  crosszone: { keep: ['cross_zone', 'internet'] },
  cost: { provider: 'aws' },
  aggregate: { by: 'workload' },
};

function record(src: string, dst: string, bytes: number, extra: Partial<FlowRecord> = {}): FlowRecord {
  return { src: { address: src, port: 40000 }, dst: { address: dst, port: 5432 }, transport: 'tcp', ipFamily: 'ipv4', bytes, packets: 1, ...extra };
}

/** Raw records, and records as k8sattributes and crosszone leave them, so every processor has work to do. */
function batch(): FlowBatch {
  return {
    start: 1_000,
    end: 2_000,
    records: [
      record('10.1.0.5', '10.2.0.7', 1000),
      record('10.1.0.5', '8.8.8.8', 200),
      record('10.2.0.7', '10.1.0.5', 300),
      record('10.1.0.5', '10.2.0.7', 40, {
        src: { address: '10.1.0.5', port: 40001, namespace: 'shop', pod: 'api-7d9f-abcde', workloadKind: 'Deployment', workloadName: 'api', node: 'node-a', zone: 'zone-a', region: 'region-1' },
        dst: { address: '10.2.0.7', port: 5432, namespace: 'shop', pod: 'db-0', workloadKind: 'StatefulSet', workloadName: 'db', node: 'node-b', zone: 'zone-b', region: 'region-1' },
        trafficClass: 'cross_zone',
      }),
    ],
  };
}

const processors = FACTORIES.filter((f): f is ProcessorFactory => f.kind === 'processor');

describe('every processor behind a fan-out', () => {
  test('the table above covers every built-in processor', () => {
    assert.deepEqual(processors.map((f) => f.type).sort(), Object.keys(CONFIGS).sort());
  });

  for (const factory of processors) {
    test(`${factory.type}: its read-only sibling sees the batch exactly as sent`, async () => {
      const downstream = new RecordingConsumer();
      const sibling = new RecordingConsumer();
      const processor = factory.create(testSettings(factory.type, 'processor'), factory.configSchema.parse(CONFIGS[factory.type]), downstream);
      const life = new Lifecycle(processor);
      await life.start();
      try {
        const sent = batch();
        const before = structuredClone(sent);
        await fanout([processor, sibling]).consume(sent);
        assert.deepEqual(sibling.batches, [before], `${factory.type} changed a batch it shares with another consumer`);
        assert.equal(downstream.batches.length, 1, 'the processor passed a batch on');
        // The check above can only fail if the processor did something: make sure it did.
        assert.notDeepEqual(downstream.batches[0], before, `${factory.type} left the batch as it was: this test would not catch a wrong capability`);
      } finally {
        await life.shutdown(contextWithTimeout(10_000));
      }
    });
  }
});
