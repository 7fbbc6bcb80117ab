/** The console exporter: the live view from known batches, its rates, its refreshes, and its config errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { replayReceiverFactory } from '../../receivers/replay/index.ts';
import { configProblems, testSettings } from '../../test/support/components.ts';
import { flow, pod } from '../../test/support/flow-records.ts';
import { until } from '../../test/support/poll.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';
import { ConsoleExporter, consoleConfigSchema, consoleExporterFactory, type ConsoleOutput } from './index.ts';

/** An output that keeps what is written; `stalled` plays a terminal that stopped reading. */
class Screen implements ConsoleOutput {
  text = '';
  isTTY = false;
  writableNeedDrain = false;
  destroyed = false;
  write(text: string): boolean {
    this.text += text;
    return true;
  }
  on() {}
  off() {}
}

const api = (zone: string) => pod('shop', `api-${zone}`, 'api', `node-${zone}`, zone);
const db = pod('shop', 'postgres-0', 'postgres', 'node-a', 'zone-a');
const store = pod('monitoring', 'store-0', 'metrics-store', 'node-c', 'zone-c');
const internet = { address: '203.0.113.9', port: 443 };

/** Two seconds of traffic starting at `t` s: postgres -> api in zone-b 4 MB (gcp: $0.04), same-zone 10 MB, store -> api 1 MB, 0.5 MB to the internet ($0.06). */
const interval = (t: number): FlowBatch => ({
  start: t * 1000,
  end: (t + 2) * 1000,
  records: [
    flow(db, api('zone-b'), 4_000_000, 3000, 'cross_zone', 0.04),
    flow(db, api('zone-a'), 10_000_000, 7000, 'same_zone', 0),
    flow(store, api('zone-a'), 1_000_000, 800, 'cross_zone', 0.01),
    flow(api('zone-b'), internet, 500_000, 400, 'internet', 0.06),
  ],
});

const exporter = (screen: Screen, config: Record<string, unknown> = {}) => new ConsoleExporter(testSettings('console', 'exporter'), consoleConfigSchema.parse(config), screen);

test('the view: zone matrix, top pairs and monthly cost as rates over the flow time received', async () => {
  const screen = new Screen();
  const e = exporter(screen);
  // Two recorded intervals back to back (4 s of flow time), received within one refresh: rates are per second of flow time.
  await e.consume(interval(100));
  await e.consume(interval(102));
  e.refresh();
  const view = screen.text;
  assert.ok(view.startsWith(`\n${'-'.repeat(80)}\n`), 'a separator before each refresh when not on a terminal');
  assert.match(view, /console exporter "console" · 3 zones · flows of 1970-01-01 00:01:40 to 00:01:44 UTC, 8 records/);
  const row = (zone: string) => view.split('\n').find((l) => l.startsWith(zone))!.trim().split(/\s{2,}/);
  // Per second over 4 s: 2 x 10 MB / 4 = 5 MB/s same zone; 2 x 4 MB / 4 = 2 MB/s a -> b; 0.5 MB/s c -> a; 0.25 MB/s b -> internet.
  assert.deepEqual(row('zone-a'), ['zone-a', '5.0 MB/s', '2.0 MB/s', '-', '-']);
  assert.deepEqual(row('zone-b'), ['zone-b', '-', '-', '-', '250 KB/s']);
  assert.deepEqual(row('zone-c'), ['zone-c', '500 KB/s', '-', '-', '-']);
  // postgres -> api: $0.08 over 4 s = $0.02/s = $52,560/month; cost of everything: $0.22 / 4 s x 730 h x 3600 s = $144,540.
  assert.match(view, /1\. shop\/postgres -> shop\/api\s+2\.0 MB\/s\s+\$52,560\/month/);
  assert.match(view, /2\. monitoring\/metrics-store -> shop\/api\s+500 KB\/s\s+\$13,140\/month/);
  assert.doesNotMatch(view, /3\./, 'same-zone and internet traffic are no cross-zone pairs');
  assert.match(view, /cross-region, internet\): \$144,540\/month$/m);
});

test('rates cover the last three refreshes; a refresh without flows says so', async () => {
  const screen = new Screen();
  const e = exporter(screen, { top: 1 });
  for (const t of [0, 2, 4, 6]) {
    await e.consume(interval(t));
    e.refresh();
  }
  // The last three periods hold the intervals at 2, 4 and 6 s: 6 s of flow time, 3 x 4 MB / 6 = 2 MB/s; top: 1 pair only.
  const last = screen.text.slice(screen.text.lastIndexOf('-'.repeat(80)));
  assert.match(last, /flows of 1970-01-01 00:00:02 to 00:00:08 UTC, 12 records/);
  assert.match(last, /1\. shop\/postgres -> shop\/api\s+2\.0 MB\/s/);
  assert.doesNotMatch(last, /2\. /);
  for (let i = 0; i < 3; i++) e.refresh();
  const idle = screen.text.slice(screen.text.lastIndexOf('-'.repeat(80)));
  assert.match(idle, /3 zones · no flows in the last refreshes/, 'zones seen earlier keep the matrix in shape');
  assert.match(idle, /\(waiting for the first flows\)/);
  assert.match(idle, /\$0\.00\/month$/m);
});

test('on a terminal each refresh clears the screen; a stalled or closed output skips refreshes instead of queueing them', async () => {
  const screen = new Screen();
  screen.isTTY = true;
  const e = exporter(screen);
  await e.consume(interval(0));
  e.refresh();
  assert.ok(screen.text.startsWith('\x1b[2J\x1b[H'));
  screen.writableNeedDrain = true;
  const before = screen.text;
  e.refresh();
  assert.equal(screen.text, before);
  // A reader that went away (EPIPE): nothing more is written, and nothing throws.
  screen.writableNeedDrain = false;
  screen.destroyed = true;
  e.refresh();
  assert.equal(screen.text, before);
});

test('started, it writes the view every interval on its own; shutdown stops it', async () => {
  const screen = new Screen();
  const e = exporter(screen, { interval: '50ms' });
  await e.start();
  await e.consume(interval(0));
  await until('two refreshes', () => screen.text.split('-'.repeat(80)).length > 2);
  assert.match(screen.text, /shop\/postgres -> shop\/api/);
  await e.shutdown();
  const after = screen.text;
  // A second exporter on the same interval as a clock: three of its refreshes later, the first wrote nothing more.
  const clock = new Screen();
  const other = exporter(clock, { interval: '50ms' });
  await other.start();
  await until('three refreshes of the other exporter', () => clock.text.split('-'.repeat(80)).length > 3);
  await other.shutdown();
  assert.equal(screen.text, after, 'nothing written after shutdown');
});

test('defaults, and a broken config in testdata/ rejected with path and line:column', async () => {
  assert.deepEqual(consoleConfigSchema.parse({}), { interval: 5000, top: 5 });
  const file = join(import.meta.dirname, 'testdata', 'bad-config.yaml');
  assert.deepEqual(await configProblems([file], [replayReceiverFactory, consoleExporterFactory], { FLOWS: join(import.meta.dirname, '../../receivers/replay/testdata/flows.jsonl') }), [
    `${file}:6:5: exporters::console::interval: invalid duration "soon": expected a positive number with a unit (ms, s, m, h), like 10s`,
    `${file}:7:5: exporters::console::top: list at least 1 workload pair`,
    `${file}:9:5: exporters::console/many::top: expected a whole number of workload pairs, like 5, got number 2.5`,
  ]);
});
