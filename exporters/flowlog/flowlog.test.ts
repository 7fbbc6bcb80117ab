import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import { configProblems, testSettings } from '../../test/support/components.ts';
import { FlowlogExporter, flowlogExporterFactory } from './index.ts';
import { replayReceiverFactory } from '../../receivers/replay/index.ts';
import { crosszoneProcessorFactory } from '../../processors/crosszone/index.ts';
import { aggregateProcessorFactory } from '../../processors/aggregate/index.ts';
import { costProcessorFactory } from '../../processors/cost/index.ts';

const T0 = Date.parse('2026-11-26T10:00:00.000Z');

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'zt-flowlog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function exporter(config: Record<string, unknown>): FlowlogExporter {
  return flowlogExporterFactory.create(testSettings('flowlog', 'exporter'), flowlogExporterFactory.configSchema.parse(config)) as FlowlogExporter;
}

function messages(input: unknown): string[] {
  const result = flowlogExporterFactory.configSchema.safeParse(input);
  assert.equal(result.success, false);
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

function record(overrides: Partial<FlowRecord> = {}): FlowRecord {
  return {
    src: { address: '10.1.0.5', port: 43122, namespace: 'shop', workloadName: 'api', zone: 'zone-a' },
    dst: { address: '10.2.0.7', port: 5432, zone: 'zone-b' },
    transport: 'tcp',
    ipFamily: 'ipv4',
    bytes: 18234,
    packets: 31,
    trafficClass: 'cross_zone',
    ...overrides,
  };
}

const batch = (records: FlowRecord[]): FlowBatch => ({ start: T0, end: T0 + 10_000, records });

test('config: defaults and bad values', (t) => {
  assert.deepEqual(flowlogExporterFactory.configSchema.parse({}), { path: 'stdout' });
  assert.deepEqual(messages({ classes: ['cross_zone', 'crosszone'] }), ['classes.1: unknown traffic class "crosszone": expected one of same_zone, same_region, cross_zone, cross_region, internet, unknown']);
  assert.deepEqual(messages({ classes: [] }), ['classes: list at least one traffic class, or leave the key out to write every record']);
  assert.deepEqual(messages({ classes: 'internet' }), ['classes: expected a list of traffic classes (same_zone, same_region, cross_zone, cross_region, internet, unknown)']);
  assert.deepEqual(messages({ path: '/nonexistent-dir/flows.jsonl' }), ['path: directory "/nonexistent-dir" of flow log "/nonexistent-dir/flows.jsonl" does not exist']);
  const dir = tempDir(t);
  assert.deepEqual(messages({ path: dir }), [`path: flow log "${dir}" is a directory; expected a file path`]);
  assert.deepEqual(messages({ path: 3 }), ['path: expected "stdout" or a file path']);
  assert.deepEqual(messages({ file: 'x' }), [': Unrecognized key: "file"']);
});

test('lifecycle: create -> shutdown, and start -> shutdown twice', async (t) => {
  const idle = exporter({ path: join(tempDir(t), 'never.jsonl') });
  await idle.shutdown();
  await idle.shutdown();
  const path = join(tempDir(t), 'flows.jsonl');
  const running = exporter({ path });
  await running.start();
  await running.consume(batch([record()]));
  await running.shutdown();
  await running.shutdown();
  await assert.rejects(running.consume(batch([record()])), { message: 'flowlog exporter "flowlog" is not running' });
  assert.equal(readFileSync(path, 'utf8').split('\n').length, 2);
});

test('writes one line per record with every attribute, keys in a fixed order, appending', async (t) => {
  const path = join(tempDir(t), 'flows.jsonl');
  writeFileSync(path, '{"existing":"line"}\n');
  const e = exporter({ path });
  await e.start();
  await e.consume(batch([record(), record({ src: { address: 'fd00::1', port: 0, hostNetwork: true, node: 'node-a' }, dst: { address: '2001:db8::1', port: 0 }, transport: 'icmpv6', ipFamily: 'ipv6', trafficClass: undefined, costUsd: 0.5, bytes: 104, packets: 1 })]));
  await e.consume({ start: T0 + 10_000, end: T0 + 20_000, records: [] });
  await e.shutdown();
  assert.equal(
    readFileSync(path, 'utf8'),
    '{"existing":"line"}\n' +
      '{"start":"2026-11-26T10:00:00.000Z","end":"2026-11-26T10:00:10.000Z","src.address":"10.1.0.5","src.port":43122,"k8s.src.namespace":"shop","k8s.src.owner.name":"api","src.zone":"zone-a","dst.address":"10.2.0.7","dst.port":5432,"dst.zone":"zone-b","transport":"tcp","network.type":"ipv4","zonetap.traffic.class":"cross_zone","bytes":18234,"packets":31}\n' +
      '{"start":"2026-11-26T10:00:00.000Z","end":"2026-11-26T10:00:10.000Z","src.address":"fd00::1","k8s.src.node.name":"node-a","k8s.src.host_network":true,"dst.address":"2001:db8::1","transport":"icmpv6","network.type":"ipv6","bytes":104,"packets":1,"zonetap.cost.usd":0.5}\n',
  );
  assert.equal(e.linesWritten, 2);
});

test('classes: only the listed classes are written; unclassified records are not', async (t) => {
  const path = join(tempDir(t), 'flows.jsonl');
  const e = exporter({ path, classes: ['cross_zone', 'internet'] });
  await e.start();
  await e.consume(
    batch([
      record({ bytes: 1 }),
      record({ bytes: 2, trafficClass: 'same_zone' }),
      record({ bytes: 3, trafficClass: undefined }),
      record({ bytes: 4, trafficClass: 'internet' }),
      record({ bytes: 5, trafficClass: 'unknown' }),
    ]),
  );
  await e.shutdown();
  const written = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l).bytes);
  assert.deepEqual(written, [1, 4]);
});

test('without classes every record is written, classified or not', async (t) => {
  const path = join(tempDir(t), 'flows.jsonl');
  const e = exporter({ path });
  await e.start();
  await e.consume(batch([record({ bytes: 1, trafficClass: undefined }), record({ bytes: 2, trafficClass: 'same_zone' })]));
  await e.shutdown();
  assert.deepEqual(readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l).bytes), [1, 2]);
});

test('big batches are written whole and in order, batch after batch', async (t) => {
  const path = join(tempDir(t), 'flows.jsonl');
  const e = exporter({ path });
  await e.start();
  const records = Array.from({ length: 20_000 }, (_, i) => record({ bytes: i }));
  // Not awaited one by one: writes must still land in consume() order.
  await Promise.all([e.consume(batch(records)), e.consume({ start: T0 + 10_000, end: T0 + 20_000, records: [record({ bytes: -1 })] })]);
  await e.shutdown();
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 20_001);
  assert.ok(lines.slice(0, 20_000).every((l, i) => l.bytes === i));
  assert.equal(lines[20_000].bytes, -1);
  assert.equal(lines[20_000].start, '2026-11-26T10:00:10.000Z');
});

test('start() fails when the file cannot be opened', async (t) => {
  const dir = tempDir(t);
  const e = new FlowlogExporter(testSettings('flowlog', 'exporter'), { path: join(dir, 'missing', 'flows.jsonl') });
  await assert.rejects(e.start(), (err: Error) => err.message.startsWith(`cannot open flow log "${join(dir, 'missing', 'flows.jsonl')}" for appending: ENOENT`));
  await e.shutdown();
});

test('path: stdout writes lines to the process output (child process)', async () => {
  const script = `
    import { flowlogExporterFactory } from ${JSON.stringify(join(import.meta.dirname, 'index.ts'))};
    import { testSettings } from ${JSON.stringify(join(import.meta.dirname, '../../test/support/components.ts'))};
    const e = flowlogExporterFactory.create(testSettings('flowlog', 'exporter'), flowlogExporterFactory.configSchema.parse({}));
    await e.start();
    await e.consume({ start: ${T0}, end: ${T0 + 10_000}, records: [{ src: { address: '10.0.0.1', port: 1 }, dst: { address: '10.0.0.2', port: 2 }, transport: 'udp', ipFamily: 'ipv4', bytes: 10, packets: 1 }] });
    await e.shutdown();
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  assert.equal(
    stdout,
    '{"start":"2026-11-26T10:00:00.000Z","end":"2026-11-26T10:00:10.000Z","src.address":"10.0.0.1","src.port":1,"dst.address":"10.0.0.2","dst.port":2,"transport":"udp","network.type":"ipv4","bytes":10,"packets":1}\n',
  );
});


/** The five factories of this area: enough for a full pipeline in the broken configs of testdata/. */
const FACTORIES = [replayReceiverFactory, flowlogExporterFactory, crosszoneProcessorFactory, aggregateProcessorFactory, costProcessorFactory];

test('a broken config in testdata/ is rejected through the config loader, with path and line:column', async () => {
  const file = join(import.meta.dirname, 'testdata', 'bad-config.yaml');
  assert.deepEqual(await configProblems([file], FACTORIES, { FLOWS: join(import.meta.dirname, '../../receivers/replay/testdata/flows.jsonl') }), [
    `${file}:6:5: exporters::flowlog::path: directory "/nonexistent-dir" of flow log "/nonexistent-dir/flows.jsonl" does not exist`,
    `${file}:7:27: exporters::flowlog::classes::1: unknown traffic class "everything": expected one of same_zone, same_region, cross_zone, cross_region, internet, unknown`,
    `${file}:9:5: exporters::flowlog/empty::classes: list at least one traffic class, or leave the key out to write every record`,
  ]);
});
