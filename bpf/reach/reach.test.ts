/**
 * The kernel-reach check on the real objects (make build compiles them) and on
 * an object built to break it (testdata/too-new.bpf.c, compiled here).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listing, reachOf } from './check.ts';

const bpf = join(import.meta.dirname, '..');

function built(t: { skip(message: string): void }, object: string): boolean {
  if (existsSync(object)) return true;
  if (process.env.CI) assert.fail(`${object} is missing: run make build`);
  t.skip(`${object} is not built`);
  return false;
}

test('the netfilter object needs at most Linux 6.4 and lists what it uses', (t) => {
  const object = join(bpf, 'netfilter.bpf.o');
  if (!built(t, object)) return;
  const reaches = reachOf(object);
  assert.deepEqual(reaches.map((r) => r.program).toSorted(), ['count_ipv4', 'count_ipv6']);
  for (const reach of reaches) {
    assert.deepEqual(reach.problems, [], listing(reach));
    assert.equal(reach.needs, '6.4');
    const uses = reach.uses.map((u) => u.use);
    for (const expected of ['kfunc bpf_rdonly_cast', 'helper 1: bpf_map_lookup_elem', 'helper 8: bpf_get_smp_processor_id', 'context read at offset 8 (8 bytes): bpf_nf_ctx.skb', 'context read at offset 0 (8 bytes): bpf_nf_ctx.state']) {
      assert.ok(uses.includes(expected), `${expected} in\n${listing(reach)}`);
    }
  }
});

test('the cgroup object needs at most Linux 5.8 and reads only __sk_buff fields 5.8 has', (t) => {
  const object = join(bpf, 'cgroup.bpf.o');
  if (!built(t, object)) return;
  const reaches = reachOf(object);
  // One program per cache generation (cgroup.bpf.c), the same code.
  assert.deepEqual(reaches.map((r) => r.program).toSorted(), ['count_egress', 'count_egress_1']);
  for (const reach of reaches) {
    assert.deepEqual(reach.problems, [], listing(reach));
    assert.ok(reach.uses.every((u) => !u.use.startsWith('kfunc')), 'no kfuncs');
    const fields = reach.uses.filter((u) => u.use.startsWith('context')).map((u) => u.use.replace(/^.*: /, ''));
    assert.deepEqual(fields.toSorted(), [
      '__sk_buff.data (direct packet access in cgroup_skb)',
      '__sk_buff.data_end (direct packet access in cgroup_skb)',
      '__sk_buff.gso_segs',
      '__sk_buff.gso_size',
      '__sk_buff.ifindex',
      '__sk_buff.len',
      '__sk_buff.protocol',
    ]);
    assert.ok(reach.uses.some((u) => u.use === 'helper 79: bpf_skb_cgroup_id (cgroup_skb)'));
  }
});

test('an object that needs more than its receiver promises, or uses what the table lacks, fails with what and why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-reach-'));
  try {
    const object = join(dir, 'too-new.bpf.o');
    const arch = execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim();
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${arch}`, '-c', join(import.meta.dirname, 'testdata', 'too-new.bpf.c'), '-o', object]);
    const [reach] = reachOf(object);
    assert.deepEqual(reach!.problems, [
      'context read at offset 184 (8 bytes) is not in bpf/reach/table.ts: add it with the first kernel that has it (for cgroup_skb programs), and its source',
      'kfunc bpf_rdonly_cast needs Linux 6.2, but the cgroup receiver promises Linux >= 5.8',
    ]);
    const cli = (() => {
      try {
        execFileSync(process.execPath, [join(import.meta.dirname, 'check.ts'), object], { encoding: 'utf8', stdio: 'pipe' });
        return { status: 0, stderr: '' };
      } catch (err) {
        return err as { status: number; stderr: string };
      }
    })();
    assert.equal(cli.status, 1, 'the build fails');
    assert.match(cli.stderr, /bpf\/reach: 2 problems:\n  too-new\.bpf\.o too_new: context read at offset 184/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
