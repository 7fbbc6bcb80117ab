import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configProblems } from '../../test/support/components.ts';
import { FACTORIES } from '../../cli/factories.ts';
import { cgroupConfigSchema } from './config.ts';
import { cgroupReceiverFactory } from './factory.ts';
import { cgroup2Mounts } from './hierarchy.ts';
import { podUidOf } from './kubelet.ts';

const testdata = (name: string) => join(import.meta.dirname, 'testdata', name);

test('the defaults are the documented ones', () => {
  assert.deepEqual(cgroupConfigSchema.parse({}), { interval: 10_000, max_flows: 65536, include_cidrs: [], exclude_cidrs: [], cgroup_path: 'auto' });
  assert.equal(cgroupReceiverFactory.type, 'cgroup');
  const full = cgroupConfigSchema.parse(parse(readFileSync(testdata('full.yaml'), 'utf8')));
  assert.equal(full.cgroup_path, '/kubepods.slice');
  assert.equal(full.cgroup_root, '/sys/fs/cgroup');
  assert.deepEqual(full.exclude_cidrs.map((c) => c.text), ['127.0.0.0/8', '::1/128']);
});

test('broken configs are refused with what was wrong and where', async () => {
  const file = testdata('bad-config.yaml');
  assert.deepEqual(await configProblems([file], FACTORIES), [
    `${file}:3:5: receivers::cgroup::cgroup_path: expected auto or an absolute cgroup path without "..", like /kubepods.slice`,
    `${file}:4:5: receivers::cgroup::max_flows: max_flows must be at most 4194304 (each table preallocates about 130 bytes per flow)`,
    `${file}:6:5: receivers::cgroup/typo::cgroup_paht: unknown key "cgroup_paht"; did you mean "cgroup_path"?`,
  ]);
  assert.equal(cgroupConfigSchema.safeParse({ cgroup_path: '/kubepods/../system.slice' }).success, false);
  assert.equal(cgroupConfigSchema.safeParse({ cgroup_root: 'sys/fs/cgroup' }).error?.issues[0]?.message, 'expected an absolute directory like /sys/fs/cgroup');
});

test('pod UIDs from the kubelet cgroup paths of both drivers, cgroup v2 and hybrid hosts', () => {
  // systemd driver (containerd and CRI-O), every QoS class, and a --cgroup-root prefix (kind).
  assert.equal(podUidOf('/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3f1c2b9a_8d4e_4f1a_9b2c_0e5d6f7a8b9c.slice/cri-containerd-4b8e2f.scope'), '3f1c2b9a-8d4e-4f1a-9b2c-0e5d6f7a8b9c');
  assert.equal(podUidOf('/kubepods.slice/kubepods-pod0a1b2c3d_4e5f_6a7b_8c9d_0e1f2a3b4c5d.slice/crio-5d1e.scope'), '0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d');
  assert.equal(podUidOf('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9e8d7c6b_5a49_3827_1605_f4e3d2c1b0a9.slice'), '9e8d7c6b-5a49-3827-1605-f4e3d2c1b0a9');
  assert.equal(podUidOf('/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod11112222_3333_4444_5555_666677778888.slice/cri-containerd-ab.scope'), '11112222-3333-4444-5555-666677778888');
  // cgroupfs driver.
  assert.equal(podUidOf('/kubepods/burstable/pod3f1c2b9a-8d4e-4f1a-9b2c-0e5d6f7a8b9c/4b8e2f0c9d1a'), '3f1c2b9a-8d4e-4f1a-9b2c-0e5d6f7a8b9c');
  assert.equal(podUidOf('/kubepods/pod0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d'), '0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d');
  // Not a pod.
  for (const path of ['/', '/kubepods.slice', '/kubepods/burstable', '/system.slice/kubelet.service', '/user.slice/user-0.slice/session-1.scope', '/kubepods/podnotauid']) {
    assert.equal(podUidOf(path), undefined, path);
  }
});

test('the cgroup v2 mount from mountinfo: pure v2 and hybrid layouts', () => {
  const v2 = '25 30 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
  const hybrid = [
    '25 30 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
    '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate',
    '27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd',
    '28 25 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory',
  ].join('\n');
  assert.deepEqual(cgroup2Mounts(v2), ['/sys/fs/cgroup']);
  assert.deepEqual(cgroup2Mounts(hybrid), ['/sys/fs/cgroup/unified']);
  assert.deepEqual(cgroup2Mounts('36 25 0:30 / /host/cgroup\\040v2 rw - cgroup2 none rw\n'), ['/host/cgroup v2']);
  assert.deepEqual(cgroup2Mounts('27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n'), []);
});
