/**
 * k8sattributes reaching the API server over TLS with the credentials a
 * kubeconfig names: the fake API server behind an HTTPS front (real TLS from
 * node:https, certificates made by openssl) that demands a client certificate
 * signed by the test CA and a bearer token, as a real API server does.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { FakeKubeApiServer, makeNode, makePod } from '../../test/kube-api/index.ts';
import { harness } from '../../test/support/k8sattributes.ts';
import { mutualTlsCerts } from '../../test/support/otlp.ts';

const TOKEN = 'zonetap-test-token';
let api: FakeKubeApiServer;
let front: Server;
let url: string;
let dir: string;
let certs: ReturnType<typeof mutualTlsCerts>;
/** Authorization headers the front saw, in order. */
const seen: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-k8s-tls-'));
  certs = mutualTlsCerts();
  api = new FakeKubeApiServer({ bookmarkIntervalMs: 300 });
  await api.start();
  api.store.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', internalIPs: ['192.168.60.1'] }));
  api.store.create('pods', makePod({ namespace: 'shop', name: 'api-0', node: 'node-a', ips: ['10.60.0.5'] }));
  const upstream = new URL(api.url);
  front = createServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), ca: readFileSync(certs.ca), requestCert: true, rejectUnauthorized: true }, (req, res) => {
    seen.push(req.headers.authorization ?? '');
    if (!(req.socket as TLSSocket).authorized || req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 401, message: 'Unauthorized' }));
      return;
    }
    const proxied = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    req.pipe(proxied);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  url = `https://127.0.0.1:${(front.address() as { port: number }).port}`;
});

after(async () => {
  front.closeAllConnections();
  front.close();
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(certs.dir, { recursive: true, force: true });
});

/** A kubeconfig for the TLS front with `user` as its user entry (YAML lines, indented 4). */
function kubeconfig(name: string, user: string[], cluster: string[] = [`certificate-authority-data: ${readFileSync(certs.ca).toString('base64')}`]): string {
  const file = join(dir, name);
  writeFileSync(file, ['apiVersion: v1', 'kind: Config', 'clusters:', '- name: tls', '  cluster:', `    server: ${url}`, ...cluster.map((l) => `    ${l}`),
    'users:', '- name: zonetap', '  user:', ...user.map((l) => `    ${l}`), 'contexts:', '- name: tls', '  context: {cluster: tls, user: zonetap}', 'current-context: tls', ''].join('\n'));
  return file;
}

async function resolvesPod(file: string): Promise<void> {
  const h = harness({ kubeconfig: file, sync_timeout: '10s', max_held_records: 0 });
  try {
    await h.processor.start();
    assert.equal(h.processor.ready, true, h.logs.join(''));
    const [record] = await h.run(['10.60.0.5', '192.168.60.1']);
    assert.equal(record!.src.pod, 'api-0');
    assert.equal(record!.src.zone, 'zone-a');
  } finally {
    await h.processor.shutdown();
  }
}

test('CA data, a client certificate and key (files, relative to the kubeconfig) and a token', async () => {
  writeFileSync(join(dir, 'client.pem'), readFileSync(certs.clientCert));
  writeFileSync(join(dir, 'client.key'), readFileSync(certs.clientKey));
  await resolvesPod(kubeconfig('files', ['client-certificate: client.pem', 'client-key: client.key', `token: ${TOKEN}`]));
});

test('client certificate and key as data, the token from a tokenFile', async () => {
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`);
  await resolvesPod(kubeconfig('data', [
    `client-certificate-data: ${readFileSync(certs.clientCert).toString('base64')}`,
    `client-key-data: ${readFileSync(certs.clientKey).toString('base64')}`,
    `tokenFile: ${join(dir, 'token')}`,
  ], [`certificate-authority: ${certs.ca}`]));
});

test('the token from an exec credential plugin (ExecCredential on stdout, KUBERNETES_EXEC_INFO given)', async () => {
  const plugin = join(dir, 'plugin.sh');
  writeFileSync(plugin, `#!/bin/sh\ncase "$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) exit 3;; esac\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"'"$PLUGIN_TOKEN"'"}}'\n`);
  chmodSync(plugin, 0o755);
  await resolvesPod(kubeconfig('exec', [
    `client-certificate-data: ${readFileSync(certs.clientCert).toString('base64')}`,
    `client-key-data: ${readFileSync(certs.clientKey).toString('base64')}`,
    'exec:', '  apiVersion: client.authentication.k8s.io/v1', '  command: ./plugin.sh', '  env: [{name: PLUGIN_TOKEN, value: zonetap-test-token}]',
  ]));
});

test('a server certificate the CA did not sign: not synced, and the log says why', async () => {
  const h = harness({ kubeconfig: kubeconfig('wrong-ca', [`token: ${TOKEN}`], []), sync_timeout: '500ms' });
  try {
    await h.processor.start();
    assert.equal(h.processor.ready, false);
    assert.match(h.logs.join(''), /cannot list \w+ from the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ .*(self-signed|unable to verify|certificate)/i);
  } finally {
    await h.processor.shutdown();
  }
});

test('a token the server refuses: the 401 is logged with what to grant', async () => {
  const before = seen.length;
  const h = harness({ kubeconfig: kubeconfig('bad-token', [
    `client-certificate-data: ${readFileSync(certs.clientCert).toString('base64')}`,
    `client-key-data: ${readFileSync(certs.clientKey).toString('base64')}`,
    'token: wrong',
  ]), sync_timeout: '500ms' });
  try {
    await h.processor.start();
    assert.equal(h.processor.ready, false);
    assert.ok(seen.slice(before).includes('Bearer wrong'), 'the token was sent');
    assert.match(h.logs.join(''), /HTTP 401: Unauthorized; grant zonetap list and watch/);
  } finally {
    await h.processor.shutdown();
  }
});
