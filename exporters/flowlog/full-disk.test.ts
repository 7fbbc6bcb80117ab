/**
 * A flow log on a real full filesystem: a small tmpfs that the test mounts,
 * fills, and frees again. After a failed write the file holds whole lines
 * only, later batches start on a line of their own, and replay reads every
 * record that was written.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import { testSettings } from '../../test/support/components.ts';
import { requirePrivileges } from '../../test/support/privileges.ts';
import { readFlowLog } from './index.ts';
import { FlowlogExporter, flowlogExporterFactory } from './index.ts';

const T0 = Date.parse('2026-11-26T10:00:00.000Z');

/** A tmpfs of `size` mounted for this test (unmounted after it); undefined when the test was skipped. */
function smallFilesystem(t: TestContext, size: string): string | undefined {
  if (!requirePrivileges(t)) return undefined; // root, to mount
  const dir = mkdtempSync(join(tmpdir(), 'zt-flowlog-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  t.after(() => {
    execFileSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Writes a file until the filesystem refuses (ENOSPC); returns its path. */
function fill(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(4096, 0x61);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
  return path;
}

function batch(records: number, first: number, start = T0): FlowBatch {
  const list: FlowRecord[] = Array.from({ length: records }, (_, i) => ({
    src: { address: '10.1.0.5', port: 40000 + ((first + i) % 20000), namespace: 'shop', pod: `api-${first + i}`, workloadName: 'api', workloadKind: 'Deployment', zone: 'zone-a' },
    dst: { address: '10.2.0.7', port: 5432, namespace: 'db', pod: 'pg-0', zone: 'zone-b' },
    transport: 'tcp', ipFamily: 'ipv4', bytes: first + i, packets: 1, trafficClass: 'cross_zone',
  }));
  return { start, end: start + 10_000, records: list };
}

const exporter = (path: string) => flowlogExporterFactory.create(testSettings('flowlog', 'exporter'), flowlogExporterFactory.configSchema.parse({ path })) as FlowlogExporter;

test('disk full: a failed batch leaves no torn line, and the next batches are whole and readable', async (t) => {
  const dir = smallFilesystem(t, '256k');
  if (!dir) return;
  const path = join(dir, 'flows.jsonl');
  const e = exporter(path);
  await e.start();
  await e.consume(batch(50, 0));
  const before = readFileSync(path);

  // Full, then two pages free: the next batch (about 100 KB) fits in part only.
  const filler = fill(dir);
  truncateSync(filler, statSync(filler).size - 8192);
  await assert.rejects(e.consume(batch(400, 1000, T0 + 10_000)), { code: 'ENOSPC' });
  assert.deepEqual(readFileSync(path), before, 'the part of the failed batch that was written is cut off again');

  rmSync(filler);
  await e.consume(batch(30, 2000, T0 + 20_000));
  await e.shutdown();

  const text = readFileSync(path, 'utf8');
  assert.ok(text.endsWith('\n'));
  const { batches, damaged } = await readFlowLog(path);
  assert.deepEqual(damaged, []);
  assert.deepEqual(batches.map((b) => [b.start - T0, b.records.length]), [[0, 50], [20_000, 30]]);
  assert.deepEqual(batches[1]!.records.map((r) => r.bytes), Array.from({ length: 30 }, (_, i) => 2000 + i));
  assert.equal(e.linesWritten, 80);
});

test('a file left without its last newline (a crash, an older version on a full disk): the next batch starts on a new line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-flowlog-torn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'flows.jsonl');
  const whole = readFileSync(join(import.meta.dirname, '../../receivers/replay/testdata/flows.jsonl'), 'utf8').split('\n')[0]!;
  writeFileSync(path, `${whole}\n${whole.slice(0, 90)}`);
  const e = exporter(path);
  await e.start();
  await e.consume(batch(3, 0));
  await e.shutdown();
  const { batches, damaged } = await readFlowLog(path);
  assert.deepEqual(damaged.map((d) => d.line), [2], 'only the torn piece is damaged');
  assert.equal(batches.reduce((n, b) => n + b.records.length, 0), 1 + 3);
});
