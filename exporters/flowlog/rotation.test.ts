/**
 * Flow log files and logrotate (the real one, Debian's `logrotate`): a
 * rotated file is followed to the new path, in both styles (rename + create,
 * copytruncate), and reopen() switches at once. Files the exporter creates are
 * mode 0640 even under umask 000: they hold pod names and addresses.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlowBatch } from '../../pipeline/flow.ts';
import { testSettings } from '../../test/support/components.ts';
import { FlowlogExporter, flowlogExporterFactory } from './index.ts';

const T0 = Date.parse('2026-11-26T10:00:00.000Z');

function setup(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'zt-flowlog-rotate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'flows.jsonl');
  const e = flowlogExporterFactory.create(testSettings('flowlog', 'exporter'), flowlogExporterFactory.configSchema.parse({ path })) as FlowlogExporter;
  t.after(() => e.shutdown());
  return { dir, path, e };
}

/** A batch of `n` records whose bytes are first, first+1, ... (so every line says which batch it came from). */
function batch(n: number, first: number): FlowBatch {
  const records = Array.from({ length: n }, (_, i) => ({ src: { address: '10.1.0.5', port: 1, pod: `api-${i}` }, dst: { address: '10.2.0.7', port: 2 }, transport: 'tcp', ipFamily: 'ipv4' as const, bytes: first + i, packets: 1 }));
  return { start: T0, end: T0 + 10_000, records };
}

const bytesIn = (path: string) => readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).bytes as number);

/** Runs logrotate once, forced, with `directives` for `path`. */
function logrotate(dir: string, path: string, directives: string[]): void {
  const config = join(dir, 'logrotate.conf');
  writeFileSync(config, `${path} {\n${directives.map((d) => `  ${d}\n`).join('')}}\n`);
  execFileSync('logrotate', ['--force', '--state', join(dir, 'logrotate.state'), config]);
}

const mode = (path: string) => statSync(path).mode & 0o777;

test('logrotate rename + create: later batches go to the new file, earlier ones stay in the rotated one', async (t) => {
  const { dir, path, e } = setup(t);
  await e.start();
  await e.consume(batch(3, 100));
  logrotate(dir, path, ['rotate 2', 'create 0600']);
  assert.equal(mode(path), 0o600, 'logrotate created the new file with its own mode');
  await e.consume(batch(2, 200));
  await e.shutdown();
  assert.deepEqual(bytesIn(`${path}.1`), [100, 101, 102]);
  assert.deepEqual(bytesIn(path), [200, 201]);
});

test('logrotate rename without create: the exporter creates the file again, mode 0640', async (t) => {
  const { dir, path, e } = setup(t);
  await e.start();
  await e.consume(batch(1, 100));
  logrotate(dir, path, ['rotate 2', 'nocreate']);
  assert.equal(existsSync(path), false);
  await e.consume(batch(1, 200));
  await e.shutdown();
  assert.deepEqual(bytesIn(`${path}.1`), [100]);
  assert.deepEqual(bytesIn(path), [200]);
  assert.equal(mode(path), 0o640);
});

test('logrotate copytruncate: later batches start at the beginning of the truncated file', async (t) => {
  const { dir, path, e } = setup(t);
  await e.start();
  await e.consume(batch(3, 100));
  logrotate(dir, path, ['rotate 2', 'copytruncate']);
  await e.consume(batch(2, 200));
  await e.shutdown();
  assert.deepEqual(bytesIn(`${path}.1`), [100, 101, 102]);
  const text = readFileSync(path, 'utf8');
  assert.equal(text.includes('\0'), false, 'no hole of zero bytes where the old content was');
  assert.deepEqual(bytesIn(path), [200, 201]);
});

test('reopen() (what a configuration reload calls) opens the path again at once', async (t) => {
  const { path, e } = setup(t);
  await e.start();
  await e.consume(batch(2, 100));
  renameSync(path, `${path}.old`);
  await e.reopen();
  assert.equal(existsSync(path), true, 'the file is there before any new batch');
  await e.consume(batch(1, 200));
  await e.shutdown();
  assert.deepEqual(bytesIn(`${path}.old`), [100, 101]);
  assert.deepEqual(bytesIn(path), [200]);
});

test('files are created with mode 0640 under umask 000', async (t) => {
  const previous = process.umask(0o000);
  t.after(() => process.umask(previous));
  const { path, e } = setup(t);
  await e.start();
  assert.equal(mode(path), 0o640);
  await e.consume(batch(1, 100));
  renameSync(path, `${path}.1`);
  await e.consume(batch(1, 200));
  assert.equal(mode(path), 0o640, 'the file made again after a rotation too');
});
