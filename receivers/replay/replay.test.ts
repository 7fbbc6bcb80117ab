import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MUTATES_DATA, READ_ONLY } from '../../pipeline/component.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';
import { capturedLogger, configProblems, meteredSettings, RecordingConsumer, testSettings } from '../../test/support/components.ts';
import { until } from '../../test/support/poll.ts';
import type { FlowConsumer } from '../../pipeline/component.ts';
import { ReplayReceiver, replayReceiverFactory } from './index.ts';
import { flowlogExporterFactory } from '../../exporters/flowlog/index.ts';
import { crosszoneProcessorFactory } from '../../processors/crosszone/index.ts';
import { aggregateProcessorFactory } from '../../processors/aggregate/index.ts';
import { costProcessorFactory } from '../../processors/cost/index.ts';

const testdata = join(import.meta.dirname, 'testdata');
const FLOWS = join(testdata, 'flows.jsonl');
const T0 = Date.parse('2026-11-26T10:00:00.000Z');

/** A replay receiver built from a config as a user writes it. */
function receiver(config: { path: string; interval?: string; loop?: boolean }, next: FlowConsumer = new RecordingConsumer()) {
  const parsed = replayReceiverFactory.configSchema.parse(config);
  return { next: next as RecordingConsumer, receiver: replayReceiverFactory.create(testSettings('replay', 'receiver'), parsed, next) as ReplayReceiver };
}

function messages(input: unknown): string[] {
  const result = replayReceiverFactory.configSchema.safeParse(input);
  assert.equal(result.success, false);
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

/** The messages of the warnings a captured logger kept, in order. */
const warnings = (lines: readonly string[]) => lines.map((l) => JSON.parse(l) as { level: number; msg: string }).filter((l) => l.level === 40).map((l) => l.msg);

test('config: defaults', () => {
  assert.deepEqual(replayReceiverFactory.configSchema.parse({ path: FLOWS }), { path: FLOWS, interval: 1000, loop: false });
});

test('config: bad values are rejected with what was wrong', () => {
  assert.deepEqual(messages({}), ['path: expected a file path']);
  assert.deepEqual(messages({ path: '/nonexistent/flows.jsonl' }), ['path: file "/nonexistent/flows.jsonl" does not exist']);
  assert.deepEqual(messages({ path: FLOWS, interval: '10 seconds' }), ['interval: invalid duration "10 seconds": expected a positive number with a unit (ms, s, m, h), like 10s']);
  assert.deepEqual(messages({ path: FLOWS, loop: 'yes' }), ['loop: expected true or false']);
  assert.deepEqual(messages({ path: FLOWS, speed: 2 }), [': Unrecognized key: "speed"']);
});

test('lifecycle: create -> shutdown, and start -> shutdown twice', async () => {
  const idle = receiver({ path: FLOWS });
  await idle.receiver.shutdown();
  await idle.receiver.shutdown();
  assert.equal(idle.next.batches.length, 0);

  const running = receiver({ path: FLOWS, interval: '1h' });
  await running.receiver.start();
  await until('the first batch', () => running.next.batches.length === 1, { intervalMs: 2 });
  await running.receiver.shutdown();
  await running.receiver.shutdown();
  // The 1h pause was cut short by shutdown: nothing more was sent.
  assert.equal(running.next.batches.length, 1);
  assert.equal(running.receiver.batchesSent, 1);
});

test('emits one recorded interval per interval, in time order, records as in the file', async () => {
  const { receiver: r, next } = receiver({ path: FLOWS, interval: '5ms' });
  await r.start();
  await r.finished;
  await r.shutdown();
  assert.deepEqual(
    next.batches.map((b) => [b.start - T0, b.end - T0, b.records.length]),
    [
      [0, 10_000, 4],
      [10_000, 20_000, 4],
      [20_000, 30_000, 2],
    ],
  );
  assert.deepEqual(next.batches[0]!.records[0], {
    src: { address: '10.1.0.5', port: 43122, namespace: 'shop', pod: 'api-7d9f8b6c5-x2x9k', workloadName: 'api', workloadKind: 'Deployment', node: 'node-a', zone: 'zone-a', region: 'region-1' },
    dst: { address: '10.2.0.7', port: 5432, namespace: 'shop', pod: 'db-0', workloadName: 'db', workloadKind: 'StatefulSet', node: 'node-b', zone: 'zone-b', region: 'region-1' },
    transport: 'tcp',
    ipFamily: 'ipv4',
    bytes: 18234,
    packets: 31,
    trafficClass: 'cross_zone',
    costUsd: 0.00018234,
  });
  const icmp = next.batches[0]!.records[3]!;
  assert.equal(icmp.transport, 'icmp');
  assert.equal(icmp.src.port, 0);
  assert.equal(icmp.src.hostNetwork, true);
  assert.equal(icmp.costUsd, undefined);
  const v6 = next.batches[1]!.records[0]!;
  assert.equal(v6.ipFamily, 'ipv6');
  assert.equal(v6.dst.address, 'fd00:10:3::9');
  assert.equal(next.batches[2]!.records[0]!.bytes, 9_000_000_000);
});

test('each batch is a fresh copy: a consumer changing it does not change the next pass', async () => {
  const changed: FlowBatch[] = [];
  const next = {
    capabilities: MUTATES_DATA,
    async consume(batch: FlowBatch) {
      changed.push(batch);
      for (const r of batch.records) r.bytes = -1;
    },
  };
  const { receiver: r } = receiver({ path: FLOWS, interval: '1ms', loop: true }, next);
  await r.start();
  await until('four batches', () => changed.length >= 4, { intervalMs: 2 });
  await r.shutdown();
  assert.equal(changed[3]!.records.length, 4);
  assert.notEqual(changed[3]!.records[0], changed[0]!.records[0]);
});

test('loop: replays again with timestamps moved forward by the span of the file', async () => {
  const { receiver: r, next } = receiver({ path: FLOWS, interval: '1ms', loop: true });
  await r.start();
  await until('seven batches', () => next.batches.length >= 7, { intervalMs: 2 });
  await r.shutdown();
  const starts = next.batches.slice(0, 7).map((b) => (b.start - T0) / 1000);
  assert.deepEqual(starts, [0, 10, 20, 30, 40, 50, 60]);
  assert.equal(next.batches[3]!.records[0]!.bytes, next.batches[0]!.records[0]!.bytes);
});

test('a consumer that rejects does not stop the replay', async () => {
  let calls = 0;
  const next = {
    capabilities: READ_ONLY,
    async consume() {
      calls++;
      throw new Error('exporter down');
    },
  };
  const { receiver: r } = receiver({ path: FLOWS, interval: '1ms' }, next);
  await r.start();
  await r.finished;
  await r.shutdown();
  assert.equal(calls, 3);
});

test('an empty file replays nothing and finishes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-replay-'));
  try {
    const path = join(dir, 'empty.jsonl');
    writeFileSync(path, '\n\n');
    const { receiver: r, next } = receiver({ path });
    await r.start();
    await r.finished;
    await r.shutdown();
    assert.equal(next.batches.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a file with no flow record fails start() naming file:line and what is wrong', async (t) => {
  const cases: [string, string][] = [
    ['bad-key.jsonl', '1: unknown key "src.zon" (did you mean "src.zone"?)'],
    ['bad-time.jsonl', '1: "start" must be an RFC 3339 time like 2026-01-02T03:04:05.000Z, got "26/11/2026 10:00"'],
    ['bad-address.jsonl', '1: "dst.address" must be an IPv4 or IPv6 address, got "10.0.0.300"'],
    ['missing-dst.jsonl', '1: missing "dst.address"'],
    ['bad-class.jsonl', '1: "zonetap.traffic.class" must be one of same_zone, same_region, cross_zone, cross_region, internet, unknown, got "crosszone"'],
    ['mixed-family.jsonl', '1: "src.address" and "dst.address" are of different IP families'],
    ['not-object.jsonl', '1: expected a JSON object'],
    ['torn-only.jsonl', '1: not valid JSON (Unterminated string in JSON at position 47 (line 1 column 48)) (and 1 more damaged lines; no line is a flow record)'],
  ];
  for (const [file, message] of cases) {
    await t.test(file, async () => {
      const path = join(testdata, file);
      const { receiver: r, next } = receiver({ path });
      await assert.rejects(r.start(), { message: `${path}:${message}` });
      await r.shutdown();
      assert.equal(next.batches.length, 0);
    });
  }
});

test('damaged lines are skipped, reported as file:line and why, and counted; the other lines are replayed', async (t) => {
  const cases: [string, number, string[]][] = [
    ['bad-bytes.jsonl', 1, ['3: "bytes" must be a whole number >= 0, got "12"']],
    ['bad-json.jsonl', 1, ["2: not valid JSON (Expected ',' or '}' after property value in JSON at position 140 (line 1 column 141))"]],
    // As a full disk left it before the flowlog exporter wrote whole lines only: a torn line, and the next record appended to it.
    ['torn.jsonl', 2, ["2: not valid JSON (Expected ':' after property name in JSON at position 72 (line 1 column 73))", "4: not valid JSON (Expected ':' after property name in JSON at position 104 (line 1 column 105))"]],
  ];
  for (const [file, records, problems] of cases) {
    await t.test(file, async () => {
      const path = join(testdata, file);
      const logs = capturedLogger('warn');
      const metered = meteredSettings('replay/damaged', 'receiver');
      const next = new RecordingConsumer();
      const r = new ReplayReceiver({ ...metered.settings, logger: logs.logger }, replayReceiverFactory.configSchema.parse({ path, interval: '1ms' }), next);
      await r.start();
      await r.finished;
      await r.shutdown();
      assert.equal(next.records.length, records);
      assert.deepEqual(warnings(logs.lines), problems.map((p) => `skipped damaged flow log line ${path}:${p}`));
      const skipped = (await metered.collect()).find((m) => m.descriptor.name === 'zonetap.receiver.replay.lines_skipped');
      assert.deepEqual(skipped?.dataPoints.map((d) => [d.attributes.component_id, d.value]), [['replay/damaged', problems.length]]);
    });
  }
});

test('past ten damaged lines, one summary line says how many there were', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-replay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'many.jsonl');
  const good = readFileSync(FLOWS, 'utf8').split('\n')[0]!;
  writeFileSync(path, [good, ...Array.from({ length: 25 }, (_, i) => `{"torn":${i}`)].join('\n') + '\n');
  const logs = capturedLogger('warn');
  const r = new ReplayReceiver({ ...testSettings('replay', 'receiver'), logger: logs.logger }, replayReceiverFactory.configSchema.parse({ path }), new RecordingConsumer());
  await r.start();
  await r.shutdown();
  const warned = warnings(logs.lines);
  assert.equal(warned.length, 11);
  assert.equal(warned[10], `skipped 25 damaged lines of ${path} in all (the first 10 are logged)`);
});

/** The five factories of this area: enough for a full pipeline in the broken configs of testdata/. */
const FACTORIES = [replayReceiverFactory, flowlogExporterFactory, crosszoneProcessorFactory, aggregateProcessorFactory, costProcessorFactory];

test('a broken config in testdata/ is rejected through the config loader, with path and line:column', async () => {
  const file = join(testdata, 'bad-config.yaml');
  assert.deepEqual(await configProblems([file], FACTORIES, { FLOWS }), [
    `${file}:3:5: receivers::replay::path: file "${FLOWS}.missing" does not exist`,
    `${file}:4:5: receivers::replay::interval: invalid duration "1 second": expected a positive number with a unit (ms, s, m, h), like 10s`,
    `${file}:5:5: receivers::replay::loop: expected true or false, got string "yes please"`,
  ]);
});
