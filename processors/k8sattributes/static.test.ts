/** k8sattributes with source: static: the inventory format, its errors, resolution and reload. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readInventory } from './inventory.ts';
import { configSchema } from './config.ts';
import { flow, harness, known } from '../../test/support/k8sattributes.ts';
import { eventually } from '../../test/support/poll.ts';
import { OVERFLOW_TRANSPORT, type FlowRecord } from '../../pipeline/flow.ts';
import { ZonetapError } from '../../pipeline/errors.ts';
import { configProblems, meteredSettings, serviceStartError } from '../../test/support/components.ts';
import { k8sattributesProcessorFactory } from './factory.ts';
import { replayReceiverFactory } from '../../receivers/replay/index.ts';
import { flowlogExporterFactory } from '../../exporters/flowlog/index.ts';

const here = import.meta.dirname;
const example = join(here, '../../config/inventory.example.yaml');
const dir = mkdtempSync(join(tmpdir(), 'zt-k8sattr-static-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function rejection(file: string): string {
  try {
    readInventory(file);
  } catch (err) {
    assert.ok(err instanceof ZonetapError);
    assert.equal(err.code, 'ZT_INVENTORY_INVALID');
    return err.message;
  }
  assert.fail(`${file} was accepted`);
}

test('the documented example inventory is valid', () => {
  const inv = readInventory(example);
  assert.equal(inv.nodes.length, 2);
  assert.equal(inv.pods.length, 3);
  assert.equal(inv.external[0]!.name, 'cloud-sql');
});

test('a duplicate address is rejected with file:line:column of both places', () => {
  const file = join(here, 'testdata/duplicate-address.yaml');
  assert.equal(
    rejection(file),
    `invalid inventory ${file}:\n  ${file}:13:27: pods[1].addresses[1]: address 10.1.0.5 is listed twice: by pod shop/api-2 and by pod shop/api-1 (pods[0].addresses[0] at line 9:17)`,
  );
});

test('a pod on an unknown node is rejected with its line', () => {
  const file = join(here, 'testdata/unknown-node.yaml');
  assert.equal(rejection(file), `invalid inventory ${file}:\n  ${file}:8:11: pods[0].node: pod shop/api-1 is on unknown node "node-z": list it under nodes (known: node-a)`);
});

test('every field error is listed at once, each with its position', () => {
  const file = join(here, 'testdata/bad-fields.yaml');
  const message = rejection(file);
  assert.match(message, /bad-fields\.yaml:4:5: nodes\[0\]\.adresses: unknown key "adresses" \(expected name, zone, region, addresses, podCIDRs\)/);
  assert.match(message, /bad-fields\.yaml:9:17: pods\[0\]\.addresses\[0\]: invalid IP address "10\.1\.0\.500"/);
  assert.match(message, /bad-fields\.yaml:10:23: pods\[0\]\.workload\.kind: expected one of Deployment, /);
  assert.match(message, /bad-fields\.yaml:13:13: external\[0\]\.cidrs\[0\]: invalid CIDR "10\.200\.0\.0\/33"/);
});

test('config: source static needs an inventory; resolve local needs node_name', () => {
  const r = configSchema.safeParse({ source: 'static', resolve: 'local' });
  assert.equal(r.success, false);
  assert.deepEqual(
    r.error!.issues.map((i) => [i.path.join('::'), i.message]),
    [
      ['inventory', 'source: static needs an inventory file (inventory: path/to/inventory.yaml)'],
      ['resolve', "resolve: local watches only this node's pods and needs node_name (e.g. node_name: ${env:NODE_NAME})"],
    ],
  );
  assert.deepEqual(configSchema.parse({}), {
    source: 'kubernetes',
    resolve: 'all',
    pod_delete_grace: 120_000,
    sync_timeout: 30_000,
    resolve_wait: 20_000,
    max_held_records: 100_000,
    max_held_memory_mib: 32,
    pod_labels: [],
    namespace_labels: [],
    max_label_values: 100,
    unhealthy_after: 60_000,
  });
});

test('static source resolves pods, nodes, hostNetwork pods, IPv6 and external blocks', async () => {
  // Nothing held (max_held_records: 0): an unknown source comes out at once. Holding: resolve-wait.test.ts.
  const h = harness({ source: 'static', inventory: example, max_held_records: 0 });
  await h.processor.start();
  try {
    assert.equal(h.processor.ready, true);
    const [pod, v6, external, internet] = await h.run(['10.1.0.5', '10.2.0.7'], ['FD01:0:0::5', '192.168.50.1'], ['10.1.0.5', '10.200.0.9'], ['10.2.0.7', '1.1.1.1', 70]);
    assert.deepEqual(known(pod!.src), { address: '10.1.0.5', port: 40000, namespace: 'shop', pod: 'api-7d9f-abcde', workloadKind: 'Deployment', workloadName: 'api', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: false });
    assert.equal(pod!.dst.workloadName, 'db');
    assert.equal(v6!.src.pod, undefined, 'receivers print canonical IPv6; the inventory is canonicalised the same way, other spellings are not matched');
    assert.deepEqual(known(v6!.dst), { address: '192.168.50.1', port: 8080, workloadKind: 'Node', workloadName: 'node-a', node: 'node-a', zone: 'zone-a', region: 'region-1', hostNetwork: true });
    assert.deepEqual(known(external!.dst), { address: '10.200.0.9', port: 8080, workloadKind: 'External', workloadName: 'cloud-sql', zone: 'zone-b', region: 'region-1', externalKind: 'managed_service' });
    assert.deepEqual(known(internet!.dst), { address: '1.1.1.1', port: 8080 });
    assert.equal(h.processor.stats.unresolvedDstBytes, 70);
    const [canonical] = await h.run(['fd01::5', '10.2.0.7']);
    assert.equal(canonical!.src.pod, 'api-7d9f-abcde');
  } finally {
    await h.processor.shutdown();
  }
});

test('the inventory is reloaded when the file changes; a bad change keeps the previous one', async () => {
  const file = join(dir, 'inventory.yaml');
  copyFileSync(example, file);
  const h = harness({ source: 'static', inventory: file });
  await h.processor.start();
  const reloaded = () => new Promise<void>((resolve) => (h.processor.staticSource!.onReload = () => resolve()));
  try {
    assert.equal((await h.run(['10.1.0.5', '10.2.0.7']))[0]!.src.zone, 'zone-a');
    let done = reloaded();
    // Written the way editors and ConfigMap updates do it: a new file renamed over the old one.
    writeFileSync(join(dir, 'next.yaml'), readFileSync(example, 'utf8').replace('zone: zone-a', 'zone: zone-z'));
    renameSync(join(dir, 'next.yaml'), file);
    await done;
    assert.equal((await h.run(['10.1.0.5', '10.2.0.7']))[0]!.src.zone, 'zone-z');

    writeFileSync(file, readFileSync(example, 'utf8').replace('node: node-b', 'node: node-q'));
    await eventually(() => assert.ok(h.logs.some((l) => /keeping the previous inventory/.test(l)), 'the bad reload was noticed'));
    assert.equal((await h.run(['10.1.0.5', '10.2.0.7']))[0]!.src.zone, 'zone-z', 'kept the previous inventory');
    assert.ok(h.logs.some((l) => /keeping the previous inventory: invalid inventory .*inventory\.yaml:\\n  .*inventory\.yaml:\d+:\d+: pods\[1\]\.node: pod shop\/db-0 is on unknown node \\"node-q\\"/.test(l)));

    done = reloaded();
    writeFileSync(file, readFileSync(example, 'utf8').replace('10.1.0.5', '10.1.0.50'));
    await done;
    const [moved] = await h.run(['10.1.0.50', '10.1.0.5']);
    assert.equal(moved!.src.pod, 'api-7d9f-abcde');
    assert.equal(moved!.dst.pod, undefined, 'a pod still listed owns only its listed addresses');

    done = reloaded();
    writeFileSync(file, readFileSync(example, 'utf8').replace(/  - namespace: shop\n    name: db-0\n(    .*\n)+?(?=  - namespace)/, ''));
    await done;
    assert.ok(![...h.processor.directory!.pods()].some((p) => p.name === 'db-0'), 'db-0 was removed from the inventory');
    const [removed] = await h.run(['10.2.0.7', '10.1.0.50']);
    assert.equal(removed!.src.pod, 'db-0', 'a pod removed from the inventory still resolves within pod_delete_grace');
    assert.equal(removed!.src.zone, 'zone-b');
  } finally {
    await h.processor.shutdown();
  }
});

test('a ConfigMap volume update (the ..data symlink swap) is seen as a change', async () => {
  const volume = join(dir, 'configmap');
  mkdirSync(join(volume, '..2026_v1'), { recursive: true });
  copyFileSync(example, join(volume, '..2026_v1', 'inventory.yaml'));
  symlinkSync('..2026_v1', join(volume, '..data'));
  symlinkSync('..data/inventory.yaml', join(volume, 'inventory.yaml'));
  const h = harness({ source: 'static', inventory: join(volume, 'inventory.yaml') });
  await h.processor.start();
  try {
    const done = new Promise<void>((resolve) => (h.processor.staticSource!.onReload = () => resolve()));
    mkdirSync(join(volume, '..2026_v2'));
    writeFileSync(join(volume, '..2026_v2', 'inventory.yaml'), readFileSync(example, 'utf8').replace('zone: zone-a', 'zone: zone-new'));
    symlinkSync('..2026_v2', join(volume, '..data_tmp'));
    renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
    await done;
    assert.equal((await h.run(['10.1.0.5', '10.2.0.7']))[0]!.src.zone, 'zone-new');
  } finally {
    await h.processor.shutdown();
  }
});

test('validate: an inventory that does not exist is a problem at its key, as run would fail on it', async () => {
  const file = join(here, 'testdata/missing-inventory.yaml');
  const env = { TESTDATA: join(here, 'testdata'), FLOWS: join(here, '../../receivers/replay/testdata/flows.jsonl') };
  assert.deepEqual(await configProblems([file], [replayReceiverFactory, k8sattributesProcessorFactory, flowlogExporterFactory], env), [
    `${file}:7:5: processors::k8sattributes::inventory: file "${env.TESTDATA}/no-such-inventory.yaml" does not exist`,
  ]);
});

test('an inventory removed after validation fails start with the component name', async () => {
  const config = { ...configSchema.parse({ source: 'static', inventory: example }), inventory: join(dir, 'nope.yaml') };
  const err = await serviceStartError(k8sattributesProcessorFactory, 'k8sattributes', config);
  assert.match(err.message, /^failed to start "k8sattributes" processor in pipeline "flows": cannot read inventory ".*nope\.yaml": ENOENT/);
});

test('self-telemetry: unresolved bytes by side, dropped flows by reason, pods and ready; every series labelled component_id', async () => {
  const { settings, collect } = meteredSettings('k8sattributes', 'processor');
  const h = harness({ source: 'static', inventory: example, node_name: 'node-a', max_held_records: 0 }, undefined, settings.meter);
  await h.processor.start();
  try {
    const out = await h.run(
      ['10.1.0.5', '10.2.0.7', 100], // api (node-a) -> db-0: kept
      ['10.1.0.5', '10.9.9.9', 40], // api -> nobody: kept, destination unresolved
      ['10.2.0.7', '10.1.0.5', 7], // db-0 is on node-b: forwarded, counted there
      ['10.9.9.8', '10.1.0.5', 5], // source nobody: the inventory lists every pod, so no pod's: kept with its address
    );
    assert.equal(out.length, 3);
    const metrics = await collect();
    const points = (name: string) =>
      (metrics.find((m) => m.descriptor.name === name)?.dataPoints.map((p) => [p.attributes, p.value]) ?? []).toSorted((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    const id = 'k8sattributes'; // the harness's component id
    assert.deepEqual(points('zonetap.processor.k8sattributes.unresolved.bytes'), [
      [{ component_id: id, side: 'dst' }, 40],
      [{ component_id: id, side: 'src' }, 5],
    ]);
    assert.deepEqual(points('zonetap.processor.k8sattributes.dropped.flows'), [[{ component_id: id, reason: 'forwarded' }, 1]]);
    assert.deepEqual(points('zonetap.processor.k8sattributes.dropped.bytes'), [[{ component_id: id, reason: 'forwarded' }, 7]]);
    assert.deepEqual(points('zonetap.processor.k8sattributes.ready'), [[{ component_id: id }, 1]]);
    assert.equal(points('zonetap.processor.k8sattributes.pods').length, 1);
    for (const m of metrics) for (const p of m.dataPoints) assert.equal(p.attributes.component_id, id, `${m.descriptor.name} ${JSON.stringify(p.attributes)}`);
  } finally {
    await h.processor.shutdown();
  }
});

test('agent mode: overflow records (no addresses) pass the locality filter with their bytes, and are never held', async () => {
  const h = harness({ source: 'static', inventory: example, node_name: 'node-a' });
  await h.processor.start();
  try {
    const unknownEnd = { address: '', port: 0 };
    const overflow = (ipFamily: 'ipv4' | 'ipv6', bytes: number, packets: number): FlowRecord => ({
      src: { ...unknownEnd },
      dst: { ...unknownEnd },
      transport: OVERFLOW_TRANSPORT,
      ipFamily,
      bytes,
      packets,
    });
    const before = h.out.batches.length;
    await h.processor.consume({
      start: 0,
      end: 1,
      records: [overflow('ipv4', 123_456, 89), flow('10.9.9.8', '10.1.0.5', 5), overflow('ipv6', 777, 3), flow('10.1.0.5', '10.2.0.7', 100)],
    });
    const out = h.out.batches.slice(before).flatMap((b) => b.records);
    assert.deepEqual(
      out.map((r) => [r.transport, r.ipFamily, r.src.address, r.dst.address, r.bytes, r.packets]),
      [
        [OVERFLOW_TRANSPORT, 'ipv4', '', '', 123_456, 89],
        [OVERFLOW_TRANSPORT, 'ipv6', '', '', 777, 3],
        ['tcp', 'ipv4', '10.1.0.5', '10.2.0.7', 100, 1],
      ],
    );
    assert.equal(h.processor.heldRecords, 1, 'only the flow from an unknown address waits for its source to resolve');
    assert.equal(h.processor.stats.droppedUnknownSourceFlows, 0);
    assert.equal(h.processor.stats.droppedForwardedFlows, 0);
  } finally {
    await h.processor.shutdown();
  }
});
