/**
 * The Job zonetap-otlp-token as the gateway overlay deploys it, run against test/kube-api's fake
 * API server and read back with the real kubectl: it creates the token Secret once, never
 * replaces it, asks the API server for nothing its Role does not grant, and fails clearly
 * without the permission.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeKubeApiServer } from '../../test/kube-api/index.ts';
import { container, DEPLOY, find, kustomize, podSpec } from '../../test/support/manifests.ts';
import type { Json, K8sObject } from '../../test/support/manifests.ts';
import { containerCommand, containerEnv } from '../../test/support/pod-env.ts';
import { REPO, run } from '../../test/support/processes.ts';
import { TOKEN_BYTES } from './create-secret.ts';

const work = mkdtempSync(join(tmpdir(), 'zt-otlp-token-'));
const api = new FakeKubeApiServer();
let kubeconfig: string;
let objects: K8sObject[];
let job: K8sObject;

before(async () => {
  await api.start();
  kubeconfig = api.writeKubeconfig(join(work, 'kubeconfig'));
  ({ objects } = await kustomize(join(DEPLOY, 'kubernetes', 'overlays', 'gateway')));
  job = find(objects, 'Job', 'zonetap-otlp-token');
});
after(async () => {
  await api.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Runs the Job's container command as the kubelet would (image paths under /app are the repository here). */
async function runJob(): Promise<{ code: number; output: string }> {
  const env = containerEnv(job, { fields: { 'metadata.namespace': 'zonetap' }, secrets: {}, volumesDir: join(work, 'volumes') });
  const [program, ...args] = containerCommand(job, env).map((a) => a.replace(/^\/app\//, REPO));
  assert.equal(program, 'node', 'the image runs the script with its Node');
  const r = await run(process.execPath, args, { env: { PATH: process.env.PATH, ...env, KUBECONFIG: kubeconfig } });
  return { code: r.code, output: r.stdout + r.stderr };
}

/** The token as the real kubectl reads it from the Secret. */
async function tokenFromKubectl(): Promise<string> {
  const r = await run('kubectl', ['--kubeconfig', kubeconfig, '-n', 'zonetap', 'get', 'secret', 'zonetap-otlp-token', '-o', 'jsonpath={.data.token}']);
  assert.equal(r.code, 0, r.stderr);
  return Buffer.from(r.stdout, 'base64').toString('utf8');
}

describe('the OTLP token Job (deploy/otlp-token)', () => {
  test('creates the Secret with a random 256-bit token, then leaves it alone', async () => {
    const first = await runJob();
    assert.equal(first.code, 0, first.output);
    assert.match(first.output, /created Secret zonetap\/zonetap-otlp-token/);
    const token = await tokenFromKubectl();
    assert.match(token, /^[A-Za-z0-9_-]+$/, 'base64url: safe in a header');
    assert.equal(Buffer.from(token, 'base64url').length, TOKEN_BYTES);

    const again = await runJob();
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, /exists: left as it is/);
    assert.equal(await tokenFromKubectl(), token, 'a second run must not rotate the token');
  });

  test('asks the API server only for what its Role grants: create secrets in its own namespace', async () => {
    const role = find(objects, 'Role', 'zonetap-otlp-token') as Json;
    const granted = new Set(role.rules.flatMap((r: Json) => r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${v} ${res}`))));
    const before = api.requests.length;
    await runJob();
    const asked = api.requests.slice(before).map((r) => {
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/([^/]+)$/.exec(r.path);
      assert.ok(m && r.method === 'POST', `${r.method} ${r.path}: only collection creates are expected`);
      assert.equal(m[1], job.metadata.namespace);
      return `create ${m[2]}`;
    });
    assert.ok(asked.length > 0);
    for (const a of asked) assert.ok(granted.has(a), `${a} is not granted by Role zonetap-otlp-token`);
    assert.equal(podSpec(job).serviceAccountName, role.metadata.name);
    assert.deepEqual(container(job).securityContext.capabilities, { drop: ['ALL'] });
  });

  test('without permission it fails with the API server\'s reason, so the Job retries and says why', async () => {
    api.store.delete('secrets', 'zonetap', 'zonetap-otlp-token');
    api.forbidden.add('secrets');
    try {
      const r = await runJob();
      assert.equal(r.code, 1, r.output);
      assert.match(r.output, /could not create Secret zonetap\/zonetap-otlp-token: HTTP 403: secrets is forbidden: .*cannot create resource "secrets"/);
    } finally {
      api.forbidden.delete('secrets');
    }
  });
});
