/**
 * The real command, as a child process: `zonetap run` replaying a flow log into
 * the flowlog exporter, stopped with SIGTERM mid-run. Every line handed to the
 * exporter is in the file, whole, and the process exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../../test/support/poll.ts';

const ROOT = join(import.meta.dirname, '../..');
const FLOWS = join(ROOT, 'receivers/replay/testdata/flows.jsonl');

test('SIGTERM during a replay run flushes the flow log and exits 0', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-flowlog-term-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'flows.jsonl');
  const config = join(dir, 'zonetap.yaml');
  writeFileSync(
    config,
    [
      'receivers:',
      '  replay:',
      `    path: ${FLOWS}`,
      '    interval: 20ms',
      '    loop: true',
      'processors:',
      '  crosszone: {}',
      '  cost: { provider: aws }',
      'exporters:',
      '  flowlog:',
      `    path: ${out}`,
      'service:',
      '  pipelines:',
      '    flows:',
      '      receivers: [replay]',
      '      processors: [crosszone, cost]',
      '      exporters: [flowlog]',
      '  telemetry:',
      '    metrics: { endpoint: 127.0.0.1:0 }',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [join(ROOT, 'cli/main.ts'), 'run', '--config', config], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;

  // Let a few loops of the file go through, then stop it.
  await until('40 flow log lines', () => {
    assert.equal(child.exitCode, null, `zonetap exited early:\n${output}`);
    return existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 40;
  }, { details: () => output });
  child.kill('SIGTERM');
  const [code, signal] = await exited;
  assert.equal(signal, null, output);
  assert.equal(code, 0, output);

  const text = readFileSync(out, 'utf8');
  assert.ok(text.endsWith('\n'), 'the last line is whole');
  const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  // Whole batches only: the file replays as intervals of 4, 4 and 2 records.
  const perInterval = new Map<string, number>();
  for (const l of lines) perInterval.set(l.start as string, (perInterval.get(l.start as string) ?? 0) + 1);
  const sizes = [...perInterval.values()];
  assert.deepEqual(sizes, sizes.map((_, i) => [4, 4, 2][i % 3]));
  // crosszone and cost ran: the first record is AWS cross-zone, $0.02/GB.
  assert.equal(lines[0]!['zonetap.traffic.class'], 'cross_zone');
  assert.equal(lines[0]!['zonetap.cost.usd'], (18234 / 1e9) * 0.02);
});
