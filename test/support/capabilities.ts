/**
 * Running a command as root holding only some capabilities, inside a network namespace, and
 * the attach probe (programs/attach-probe.ts) run that way: how deploy/'s tests check that a
 * container's `capabilities.add` is exactly what zonetap's eBPF program needs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { run } from './processes.ts';

const ATTACH_PROBE = join(import.meta.dirname, 'programs', 'attach-probe.ts');

/** `ip` arguments that run `command` in `netns` as root holding only `keep` (Kubernetes names, e.g. BPF). */
export async function confinedCommand(netns: string, keep: readonly string[], command: readonly string[]): Promise<string[]> {
  const print = await run('capsh', ['--print']);
  const all = /^Bounding set =(.*)$/m.exec(print.stdout)![1]!.split(',').filter(Boolean);
  const wanted = new Set(keep.map((k) => `cap_${k.toLowerCase()}`));
  for (const w of wanted) assert.ok(all.includes(w), `capsh does not know ${w}`);
  const drop = all.filter((c) => !wanted.has(c)).join(',');
  return ['netns', 'exec', netns, 'capsh', `--drop=${drop}`, '--', '-c', 'exec "$0" "$@"', ...command];
}

export interface ProbeResult {
  ok: boolean;
  steps: string[];
  error?: string;
}

/** Loads, attaches (IPv4 and IPv6) and drains zonetap's program in `netns` holding only `keep`. */
export async function attachProbe(netns: string, keep: readonly string[]): Promise<ProbeResult> {
  const r = await run('ip', await confinedCommand(netns, keep, [process.execPath, ATTACH_PROBE]));
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  assert.ok(line.startsWith('{'), `probe printed no result: ${r.stdout}${r.stderr}`);
  return JSON.parse(line) as ProbeResult;
}

/** The probe succeeds with `add`, and fails at load without any one of them (each one is needed). */
export async function assertExactlyNeeded(netns: string, add: readonly string[], where: string): Promise<void> {
  assert.deepEqual(await attachProbe(netns, add), { ok: true, steps: ['load and attach', 'info', 'drain'] }, where);
  for (const missing of add) {
    const r = await attachProbe(netns, add.filter((c) => c !== missing));
    assert.equal(r.ok, false, `${where}: still works without CAP_${missing}: drop it`);
    assert.deepEqual(r.steps, [], `${where}, without CAP_${missing}: ${r.error}`);
    assert.match(r.error ?? '', /not permitted|permission|CAP_/i, `${where}, without CAP_${missing}`);
  }
}
