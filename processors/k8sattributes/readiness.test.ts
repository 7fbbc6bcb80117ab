/**
 * Readiness after losing the Kubernetes API (source: kubernetes, the fake API
 * server on loopback): `ready` and zonetap.processor.k8sattributes.ready turn
 * false once an informer has not heard from the API server for
 * unhealthy_after, whether it is down, answers 500, hangs with its
 * connections open, or expires the watches and then fails the relist; and
 * true again once it answers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeKubeApiServer, makeNode, makePod } from '../../test/kube-api/index.ts';
import { meteredSettings } from '../../test/support/components.ts';
import { harness, type Harness } from '../../test/support/k8sattributes.ts';
import { eventually } from '../../test/support/poll.ts';

const UNHEALTHY_AFTER_MS = 1000;
const RESOURCES = ['pods', 'nodes', 'replicasets', 'jobs'];
let server: FakeKubeApiServer;
let dir: string;
let kubeconfig: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zt-k8sattr-ready-'));
  server = new FakeKubeApiServer({ bookmarkIntervalMs: 100 });
  await server.start();
  kubeconfig = server.writeKubeconfig(join(dir, 'kubeconfig'));
  server.store.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', internalIPs: ['192.168.70.1'] }));
  server.store.create('pods', makePod({ namespace: 'shop', name: 'api-0', node: 'node-a', ips: ['10.70.0.5'] }));
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A synced processor with unhealthy_after 1s, and its ready gauge read back. */
async function synced(): Promise<{ h: Harness; gauge(): Promise<number | undefined> }> {
  const { settings, collect } = meteredSettings('k8sattributes', 'processor');
  const h = harness({ kubeconfig, sync_timeout: '10s', unhealthy_after: `${UNHEALTHY_AFTER_MS}ms` }, undefined, settings.meter);
  await h.processor.start();
  assert.equal(h.processor.ready, true);
  const gauge = async () => (await collect()).find((m) => m.descriptor.name === 'zonetap.processor.k8sattributes.ready')?.dataPoints[0]?.value as number | undefined;
  assert.equal(await gauge(), 1);
  return { h, gauge };
}

/** Waits for ready to turn false; returns how long it took from `since`. */
async function becomesUnready(h: Harness, gauge: () => Promise<number | undefined>, since: number): Promise<number> {
  await eventually(() => assert.equal(h.processor.ready, false, 'still ready'));
  const took = Date.now() - since;
  assert.equal(await gauge(), 0);
  return took;
}

async function becomesReady(h: Harness, gauge: () => Promise<number | undefined>): Promise<void> {
  await eventually(() => assert.equal(h.processor.ready, true, 'not ready yet'));
  assert.equal(await gauge(), 1);
}

test('API server down: not ready after unhealthy_after, ready again once it is back', async () => {
  const { h, gauge } = await synced();
  try {
    const down = Date.now();
    await server.stop();
    const took = await becomesUnready(h, gauge, down);
    // A lower bound only, with room for the gap between the last bookmark and the outage
    // (bookmarks every 100 ms, watches reopened every second): not at the first failed request.
    assert.ok(took >= UNHEALTHY_AFTER_MS / 2, `unready after ${took} ms: the first failure does not make it unready, unhealthy_after does`);
    await eventually(() => assert.ok(h.logs.some((l) => /not heard from the Kubernetes API at http:\/\/127\.0\.0\.1:\d+ for 1000 ms \(unhealthy_after\); not ready until they are/.test(l)), 'the loss is logged'));
    await server.start();
    await becomesReady(h, gauge);
    await eventually(() => assert.ok(h.logs.some((l) => /in contact with the Kubernetes API at .* again; ready/.test(l)), 'the recovery is logged'));
  } finally {
    await h.processor.shutdown();
    await server.start();
  }
});

test('API server answering 500: not ready after unhealthy_after, ready again once it answers', async () => {
  const { h, gauge } = await synced();
  try {
    for (const r of RESOURCES) server.failing.add(r);
    server.endWatches();
    await becomesUnready(h, gauge, Date.now());
    assert.ok(h.logs.some((l) => /cannot watch \w+ from the Kubernetes API .*HTTP 500|cannot watch \w+ from the Kubernetes API .*Internal Server Error/.test(l)), h.logs.join(''));
    server.failing.clear();
    await becomesReady(h, gauge);
  } finally {
    server.failing.clear();
    await h.processor.shutdown();
  }
});

test('API server hanging with its watches open (no events, no bookmarks): not ready after unhealthy_after, ready again once it answers', async () => {
  const { h, gauge } = await synced();
  try {
    server.hang();
    assert.ok(server.openWatches > 0, 'the watches stay open');
    await becomesUnready(h, gauge, Date.now());
    server.resume();
    await becomesReady(h, gauge);
    // What changed meanwhile arrives through the reopened watches.
    server.store.create('pods', makePod({ namespace: 'shop', name: 'api-1', node: 'node-a', ips: ['10.70.0.6'] }));
    await eventually(async () => assert.equal((await h.run(['10.70.0.6', '10.70.0.5']))[0]?.src.pod, 'api-1'));
  } finally {
    server.resume();
    await h.processor.shutdown();
  }
});

test('watches expired (410) and the relist failing: not ready after unhealthy_after, ready again once the relist succeeds', async () => {
  const { h, gauge } = await synced();
  const lists = () => server.requests.filter((r) => r.path === '/api/v1/pods' && r.query.watch === undefined).length;
  try {
    const before = lists();
    for (const r of RESOURCES) server.failing.add(r);
    server.expireWatches();
    await becomesUnready(h, gauge, Date.now());
    assert.ok(lists() > before, 'the pod informer tried to relist');
    server.failing.clear();
    await becomesReady(h, gauge);
  } finally {
    server.failing.clear();
    await h.processor.shutdown();
  }
});

test('a plain 410 that relists at once keeps the processor ready: no false alarm', async () => {
  const { h } = await synced();
  try {
    server.expireWatches();
    server.store.create('pods', makePod({ namespace: 'shop', name: 'after-410', node: 'node-a', ips: ['10.70.0.7'] }));
    await eventually(async () => assert.equal((await h.run(['10.70.0.7', '10.70.0.5']))[0]?.src.pod, 'after-410'));
    assert.equal(h.processor.ready, true);
  } finally {
    await h.processor.shutdown();
  }
});

test('quiet watches the server ends before any bookmark: still ready (each accepted watch is contact)', async () => {
  // Bookmarks far rarer than the watches last (timeoutSeconds is unhealthy_after/2, 2 s here): nothing
  // but accepted watches tells the informers the server is there.
  const unhealthyAfterMs = 3000;
  const quiet = new FakeKubeApiServer({ bookmarkIntervalMs: 3_600_000 });
  await quiet.start();
  quiet.store.create('nodes', makeNode({ name: 'node-a', zone: 'zone-a', internalIPs: ['192.168.70.1'] }));
  const h = harness({ kubeconfig: quiet.writeKubeconfig(join(dir, 'quiet-kubeconfig')), sync_timeout: '10s', unhealthy_after: `${unhealthyAfterMs}ms` });
  await h.processor.start();
  const watches = () => quiet.requests.filter((r) => r.path === '/api/v1/nodes' && r.query.watch).length;
  let unready = 0;
  try {
    // Four watches of nodes one after the other: past unhealthy_after twice over.
    await eventually(() => {
      if (!h.processor.ready) unready++;
      assert.ok(watches() >= 4, `${watches()} watches of nodes so far`);
    }, { timeoutMs: 30_000 });
    assert.equal(unready, 0, 'unready while the server accepted every watch');
    assert.equal(h.processor.ready, true);
    assert.ok(!h.logs.some((l) => /not heard from the Kubernetes API/.test(l)), h.logs.join('\n'));
  } finally {
    await h.processor.shutdown();
    await quiet.stop();
  }
});
