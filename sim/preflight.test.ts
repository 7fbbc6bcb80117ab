/** What the demo checks before it builds anything, and what it says when it cannot run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDON_PATH } from '../native/index.ts';
import { HOST_ROUTING_OBJECT } from './host-routing.ts';
import { demoProblems, kernelVersion, type Host } from './preflight.ts';

test('kernel versions are read from the release string', () => {
  assert.deepEqual(kernelVersion('6.1.0-18-amd64'), [6, 1]);
  assert.deepEqual(kernelVersion('6.18.2'), [6, 18]);
  assert.deepEqual(kernelVersion('5.15.0-1057-aws'), [5, 15]);
  assert.equal(kernelVersion('unknown'), undefined);
});

const ready: Host = { platform: 'linux', uid: 0, kernel: '6.8.0-45-generic', exists: () => true, hasCommand: () => true, hasCgroup2: () => true };

test('a machine with everything: no problem', () => {
  assert.deepEqual(demoProblems(ready), []);
  assert.deepEqual(demoProblems(ready, 'cgroup'), []);
});

test('each missing requirement is named with what to do', () => {
  assert.deepEqual(demoProblems({ ...ready, platform: 'darwin' }), ['it needs Linux >= 6.4 (eBPF and network namespaces); this is darwin']);
  assert.deepEqual(demoProblems({ ...ready, uid: 1000 }), ['it must run as root: it creates network namespaces and loads eBPF programs (try: sudo make demo)']);
  assert.deepEqual(demoProblems({ ...ready, kernel: '6.1.0-18-amd64' }), ['it needs Linux >= 6.4 for eBPF netfilter links; this kernel is 6.1.0-18-amd64']);
  assert.deepEqual(demoProblems({ ...ready, exists: (p) => p !== '/sys/kernel/btf/vmlinux' }), [
    'it needs kernel BTF (/sys/kernel/btf/vmlinux is missing): use a kernel built with CONFIG_DEBUG_INFO_BTF=y',
  ]);
  assert.deepEqual(demoProblems({ ...ready, exists: (p) => p !== ADDON_PATH }), [
    `it needs the eBPF programs and the native addon, which are not built (${ADDON_PATH} missing): run \`make demo\`, which builds them first, or \`make build\``,
  ]);
  assert.deepEqual(demoProblems({ ...ready, hasCommand: () => false }), ['it needs iproute2 (`ip`): apt-get install iproute2']);
  // Everything at once: every problem, in that order.
  const none: Host = { platform: 'linux', uid: 1000, kernel: '5.10.0', exists: () => false, hasCommand: () => false, hasCgroup2: () => false };
  assert.equal(demoProblems(none).length, 5);
  assert.match(demoProblems(none)[3]!, new RegExp(`\\(${ADDON_PATH} missing`));
});

test('with RECEIVER=cgroup: Linux 5.13 and cgroup v2 instead of 6.4 and BTF, and the host-routing program', () => {
  assert.deepEqual(demoProblems({ ...ready, kernel: '6.1.0-18-amd64', exists: (p) => p !== '/sys/kernel/btf/vmlinux' }, 'cgroup'), []);
  assert.deepEqual(demoProblems({ ...ready, kernel: '5.10.0-28-amd64' }, 'cgroup'), [
    'it needs Linux >= 5.13 for the cgroup receiver and the simulated eBPF host routing (bpf_redirect_neigh with a next hop); this kernel is 5.10.0-28-amd64',
  ]);
  assert.deepEqual(demoProblems({ ...ready, hasCgroup2: () => false }, 'cgroup'), ['it needs a cgroup v2 hierarchy (none is mounted): mount -t cgroup2 none /sys/fs/cgroup']);
  assert.match(demoProblems({ ...ready, exists: (p) => p !== HOST_ROUTING_OBJECT }, 'cgroup')[0]!, new RegExp(`\\(${HOST_ROUTING_OBJECT} missing`));
});
