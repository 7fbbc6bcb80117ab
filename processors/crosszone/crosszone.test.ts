import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ColumnBatch, columnsFromRecords, newColumns } from '../../pipeline/columns.ts';
import { fanout } from '../../pipeline/fanout.ts';
import { TRAFFIC_CLASSES, type FlowEndpoint, type FlowRecord, type TrafficClass } from '../../pipeline/flow.ts';
import { fuzzSeed, SeededRandom } from '../../test/support/fuzz.ts';
import { bothForms, randomEnds, randomFlows } from '../../test/support/random-flows.ts';
import { NO_DEADLINE } from '../../pipeline/lifecycle.ts';
import { configProblems, RecordingConsumer, testSettings } from '../../test/support/components.ts';
import { classifyBatches, classifyFlow, crosszoneProcessorFactory } from './index.ts';
import { replayReceiverFactory } from '../../receivers/replay/index.ts';
import { flowlogExporterFactory } from '../../exporters/flowlog/index.ts';
import { aggregateProcessorFactory } from '../../processors/aggregate/index.ts';
import { costProcessorFactory } from '../../processors/cost/index.ts';
import { join } from 'node:path';

function processor(config: Record<string, unknown> = {}) {
  const next = new RecordingConsumer();
  const p = crosszoneProcessorFactory.create(testSettings('crosszone', 'processor'), crosszoneProcessorFactory.configSchema.parse(config), next);
  return { p, next };
}

function flow(src: Partial<FlowEndpoint>, dst: Partial<FlowEndpoint>, extra: Partial<FlowRecord> = {}): FlowRecord {
  return { src: { address: '10.0.0.1', port: 1000, ...src }, dst: { address: '10.0.0.2', port: 80, ...dst }, transport: 'tcp', ipFamily: 'ipv4', bytes: 100, packets: 1, ...extra };
}

test('config: defaults and bad values', () => {
  assert.deepEqual(crosszoneProcessorFactory.configSchema.parse({}), {});
  assert.equal(processor().p.capabilities.mutatesData, true, 'changes batches in place: fan-out hands it a batch of its own');
  const bad = (input: unknown) => crosszoneProcessorFactory.configSchema.safeParse(input).error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  assert.deepEqual(bad({ keep: ['cross-zone'] }), ['keep.0: unknown traffic class "cross-zone": expected one of same_zone, same_region, cross_zone, cross_region, internet, unknown']);
  assert.deepEqual(bad({ keep: [] }), ['keep: list at least one traffic class, or leave the key out to keep every class']);
  assert.deepEqual(bad({ keep: 'internet' }), ['keep: expected a list of traffic classes (same_zone, same_region, cross_zone, cross_region, internet, unknown)']);
  assert.deepEqual(bad({ classes: ['internet'] }), [': Unrecognized key: "classes"']);
});

test('lifecycle: create -> shutdown, and start -> shutdown twice', async () => {
  const idle = processor();
  await idle.p.shutdown(NO_DEADLINE);
  const { p, next } = processor();
  await p.start(NO_DEADLINE);
  await p.consume({ start: 0, end: 1, records: [flow({ zone: 'a' }, { zone: 'b' })] });
  await p.shutdown(NO_DEADLINE);
  await p.shutdown(NO_DEADLINE);
  assert.equal(next.records[0]!.trafficClass, 'cross_zone');
});

test('classifyFlow: zones, regions, internet, unknown', () => {
  const cases: [string, FlowRecord, string][] = [
    ['same zone', flow({ zone: 'a', region: 'r1' }, { zone: 'a', region: 'r1' }), 'same_zone'],
    ['zones differ, same region', flow({ zone: 'a', region: 'r1' }, { zone: 'b', region: 'r1' }), 'cross_zone'],
    ['zones differ, region unknown', flow({ zone: 'a' }, { zone: 'b' }), 'cross_zone'],
    ['zones differ, one region unknown', flow({ zone: 'a', region: 'r1' }, { zone: 'b' }), 'cross_zone'],
    ['regions differ', flow({ zone: 'a', region: 'r1' }, { zone: 'c', region: 'r2' }), 'cross_region'],
    ['regions differ, zones unknown (external block with a region)', flow({ zone: 'a', region: 'r1' }, { region: 'r2', workloadName: 'db' }), 'cross_region'],
    ['public destination, unresolved', flow({ zone: 'a', namespace: 'shop' }, { address: '8.8.8.8' }), 'internet'],
    ['public IPv6 destination', flow({ zone: 'a' }, { address: '2001:4860:4860::8888' }, { ipFamily: 'ipv6' }), 'internet'],
    ['public destination, source unresolved too', flow({}, { address: '1.1.1.1' }), 'internet'],
    ['public destination resolved to a node', flow({ zone: 'a' }, { address: '34.1.2.3', node: 'node-b' }), 'unknown'],
    ['public destination that is an external block with a zone', flow({ zone: 'a' }, { address: '34.1.2.3', zone: 'b' }), 'cross_zone'],
    ['private destination nobody claims', flow({ zone: 'a' }, { address: '10.9.9.9' }), 'unknown'],
    ['link-local destination', flow({ zone: 'a' }, { address: '169.254.169.254' }), 'unknown'],
    ['source zone unknown', flow({}, { zone: 'b' }), 'unknown'],
  ];
  for (const [name, record, cls] of cases) assert.equal(classifyFlow(record), cls, name);
});

test('consume sets the class on every record and hands the same batch on', async () => {
  const { p, next } = processor();
  const batch = {
    start: 0,
    end: 1,
    records: [flow({ zone: 'a' }, { zone: 'a' }), flow({ zone: 'a' }, { zone: 'b' }), flow({ zone: 'a' }, { address: '8.8.8.8' }), flow({ zone: 'a' }, { address: '10.1.1.1' })],
  };
  await p.consume(batch);
  assert.equal(next.batches[0], batch);
  assert.deepEqual(
    next.records.map((r) => r.trafficClass),
    ['same_zone', 'cross_zone', 'internet', 'unknown'],
  );
});

test('keep: only the listed classes pass, in order', async () => {
  const { p, next } = processor({ keep: ['cross_zone', 'internet'] });
  await p.consume({
    start: 0,
    end: 1,
    records: [
      flow({ zone: 'a' }, { zone: 'b' }, { bytes: 1 }),
      flow({ zone: 'a' }, { zone: 'a' }, { bytes: 2 }),
      flow({ zone: 'a' }, { address: '8.8.8.8' }, { bytes: 3 }),
      flow({ zone: 'a' }, { address: '10.1.1.1' }, { bytes: 4 }),
      flow({ zone: 'a' }, { zone: 'c' }, { bytes: 5 }),
    ],
  });
  assert.deepEqual(
    next.records.map((r) => [r.bytes, r.trafficClass]),
    [
      [1, 'cross_zone'],
      [3, 'internet'],
      [5, 'cross_zone'],
    ],
  );
});

test('a class set upstream survives when zones say nothing, and is replaced when they do', async () => {
  const { p, next } = processor();
  await p.consume({
    start: 0,
    end: 1,
    records: [flow({}, {}, { trafficClass: 'cross_region' }), flow({ zone: 'a' }, { zone: 'a' }, { trafficClass: 'cross_zone' })],
  });
  assert.deepEqual(
    next.records.map((r) => r.trafficClass),
    ['cross_region', 'same_zone'],
  );
});


/** The five factories of this area: enough for a full pipeline in the broken configs of testdata/. */
const FACTORIES = [replayReceiverFactory, flowlogExporterFactory, crosszoneProcessorFactory, aggregateProcessorFactory, costProcessorFactory];

test('broken configs in testdata/ are rejected through the config loader, with path and line:column', async () => {
  const file = join(import.meta.dirname, 'testdata', 'bad-keep.yaml');
  assert.deepEqual(await configProblems([file], FACTORIES, { FLOWS: join(import.meta.dirname, '../../receivers/replay/testdata/flows.jsonl') }), [
    `${file}:6:24: processors::crosszone::keep::1: unknown traffic class "inter_region": expected one of same_zone, same_region, cross_zone, cross_region, internet, unknown`,
    `${file}:8:5: processors::crosszone/empty::keep: list at least one traffic class, or leave the key out to keep every class`,
  ]);
});

/** A batch of columns: the flows of `records`. */
function columnBatch(records: FlowRecord[]): ColumnBatch {
  return new ColumnBatch(0, 1, columnsFromRecords(records));
}

test('columns: classes set per row from its ends, a class set upstream kept when they say unknown, the batch stays columns', async () => {
  const { p, next } = processor();
  const batch = columnBatch([
    flow({ zone: 'a' }, { zone: 'a' }),
    flow({ zone: 'a', region: 'r1' }, { zone: 'b', region: 'r2' }),
    flow({ zone: 'a', region: 'r1' }, { region: 'r1', workloadName: 'aws-s3' }),
    flow({ zone: 'a' }, { address: '8.8.8.8' }),
    flow({ zone: 'a' }, { address: '8.8.8.8', node: 'node-x' }),
    flow({}, { address: '10.1.1.1' }, { trafficClass: 'cross_region' }),
    flow({ zone: 'a' }, { zone: 'b' }, { trafficClass: 'same_zone' }),
  ]);
  await p.consume(batch);
  assert.equal(next.batches[0], batch);
  assert.ok(batch.columns !== undefined, 'crosszone left the batch as columns');
  assert.deepEqual(
    next.records.map((r) => r.trafficClass),
    ['same_zone', 'cross_region', 'same_region', 'internet', 'unknown', 'cross_region', 'cross_zone'],
  );
});

test('columns: keep drops rows of other classes, in order', async () => {
  const { p, next } = processor({ keep: ['cross_zone', 'internet'] });
  const batch = columnBatch([flow({ zone: 'a' }, { zone: 'b' }, { bytes: 1 }), flow({ zone: 'a' }, { zone: 'a' }, { bytes: 2 }), flow({ zone: 'a' }, { address: '8.8.8.8' }, { bytes: 3 }), flow({ zone: 'a' }, { zone: 'c' }, { bytes: 5 })]);
  await p.consume(batch);
  assert.equal(batch.columns!.length, 3);
  assert.deepEqual(
    next.records.map((r) => [r.bytes, r.trafficClass]),
    [
      [1, 'cross_zone'],
      [3, 'internet'],
      [5, 'cross_zone'],
    ],
  );
});

test('columns give the records that records give, on random batches through one processor per form, for several keep choices', () => {
  const keeps: (TrafficClass[] | undefined)[] = [undefined, ['cross_zone', 'internet'], ['unknown'], ['same_region', 'same_zone', 'cross_region']];
  const seen = new Set<string>();
  for (const keep of keeps) {
    const random = new SeededRandom(fuzzSeed(31));
    const ends = randomEnds(random, 1_500);
    const onRecords = classifyBatches(keep ? { keep } : {});
    const onColumns = classifyBatches(keep ? { keep } : {});
    for (let round = 0; round < 5; round++) {
      const flows = randomFlows(random, ends, random.int(0, 4_000));
      for (const r of flows) seen.add(`${classifyFlow(r)}${classifyFlow(r) === 'unknown' && r.trafficClass ? ' kept' : ''}`);
      const { records, columns } = bothForms(random, flows, ends);
      onRecords(records);
      onColumns(columns);
      assert.ok(columns.columns !== undefined, 'still columns');
      assert.deepEqual(columns.records, records.records, `keep ${keep?.join(',') ?? 'all'}, round ${round}`);
    }
  }
  // The comparison above covers every case of classify.ts.
  assert.deepEqual([...seen].sort(), [...TRAFFIC_CLASSES, 'unknown kept'].sort());
});

test('columns: an empty batch stays empty, with or without keep', async () => {
  for (const config of [{}, { keep: ['internet'] }]) {
    const batch = new ColumnBatch(0, 1, newColumns(0));
    await processor(config).p.consume(batch);
    assert.equal(batch.columns?.length, 0);
  }
});

test('columns behind a fan-out: the read-only sibling sees its columns exactly as sent', async () => {
  const downstream = new RecordingConsumer();
  const sibling = new RecordingConsumer();
  const p = crosszoneProcessorFactory.create(testSettings('crosszone', 'processor'), crosszoneProcessorFactory.configSchema.parse({ keep: ['cross_zone'] }), downstream);
  const random = new SeededRandom(5);
  const sent = bothForms(random, randomFlows(random, randomEnds(random, 50), 500)).columns;
  const before = structuredClone(sent.columns);
  await fanout([p, sibling]).consume(sent);
  assert.deepEqual(sibling.batches[0]!.columns, before);
  assert.notEqual(downstream.batches[0]!.columns!.length, before!.length, 'the processor dropped rows in its own copy');
});
