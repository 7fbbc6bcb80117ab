/**
 * receivers/replay reads what exporters/flowlog writes: replaying a flow log
 * into the flowlog exporter gives the same lines back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testSettings } from '../../test/support/components.ts';
import { ReplayReceiver, replayReceiverFactory } from '../../receivers/replay/index.ts';
import { FlowlogExporter, flowlogExporterFactory } from './index.ts';

const FLOWS = join(import.meta.dirname, '../../receivers/replay/testdata/flows.jsonl');

/** Replays `input` through the flowlog exporter into a new file and returns what was written. */
async function replayThroughFlowlog(input: string, dir: string): Promise<string> {
  const output = join(dir, 'out.jsonl');
  const exporter = flowlogExporterFactory.create(testSettings('flowlog', 'exporter'), flowlogExporterFactory.configSchema.parse({ path: output })) as FlowlogExporter;
  const receiver = replayReceiverFactory.create(testSettings('replay', 'receiver'), replayReceiverFactory.configSchema.parse({ path: input, interval: '1ms' }), exporter) as ReplayReceiver;
  await exporter.start();
  await receiver.start();
  await receiver.finished;
  await receiver.shutdown();
  await exporter.shutdown();
  return readFileSync(output, 'utf8');
}

/** Each line with its keys sorted and its times in UTC with milliseconds. */
function normalise(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const o = JSON.parse(line) as Record<string, unknown>;
      for (const key of ['start', 'end']) o[key] = new Date(Date.parse(o[key] as string)).toISOString();
      return JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))));
    });
}

test('replay -> flowlog gives testdata/flows.jsonl back byte for byte (IPv4+IPv6, TCP/UDP/ICMP, every attribute)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-flowlog-rt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const input = readFileSync(FLOWS, 'utf8');
  const output = await replayThroughFlowlog(FLOWS, dir);
  assert.equal(output, input);
  // The file covers what it claims to.
  const lines = normalise(input).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual([...new Set(lines.map((l) => l['network.type']))].sort(), ['ipv4', 'ipv6']);
  assert.deepEqual([...new Set(lines.map((l) => l.transport))].sort(), ['icmp', 'icmpv6', 'tcp', 'udp']);
  assert.deepEqual([...new Set(lines.map((l) => l['zonetap.traffic.class']))].sort(), ['cross_region', 'cross_zone', 'internet', 'same_zone', 'unknown', undefined]);
});

test('replay -> flowlog of a hand-written log (keys shuffled, other time zones) is equal after normalisation', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-flowlog-rt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const shuffled = readFileSync(FLOWS, 'utf8')
    .trim()
    .split('\n')
    .map((line, i) => {
      const entries = Object.entries(JSON.parse(line) as Record<string, unknown>).reverse();
      const o = Object.fromEntries(entries);
      // Same instants, written as +02:00 local times on every other line.
      if (i % 2 === 0) for (const key of ['start', 'end']) o[key] = new Date(Date.parse(o[key] as string) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
      return JSON.stringify(o);
    })
    .join('\n');
  const input = join(dir, 'hand-written.jsonl');
  writeFileSync(input, '\n' + shuffled + '\n\n');
  const output = await replayThroughFlowlog(input, dir);
  assert.deepEqual(normalise(output), normalise(readFileSync(FLOWS, 'utf8')));
  assert.notEqual(output, readFileSync(input, 'utf8'));
});
