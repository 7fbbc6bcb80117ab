/** objectsFromInventory: a static inventory as the objects a real API server would hold. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { objectsFromInventory } from './from-inventory.ts';

type Json = any;
const owner = (o: Json) => o.metadata.ownerReferences?.map((r: Json) => `${r.kind}/${r.name}`).join(',');

test('nodes carry zone labels, addresses and pod CIDRs; pods their addresses and owners through ReplicaSets and Jobs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zt-from-inventory-'));
  try {
    const file = join(dir, 'inventory.yaml');
    writeFileSync(file, `nodes:
  - { name: node-a, zone: zone-a, region: region-1, addresses: [10.255.0.1], podCIDRs: [10.1.0.0/24, "fd01::/64"] }
pods:
  - { namespace: shop, name: api-0, workload: { kind: Deployment, name: api }, node: node-a, addresses: [10.1.0.10, "fd01::10"] }
  - { namespace: shop, name: api-1, workload: { kind: Deployment, name: api }, node: node-a, addresses: [10.1.0.11] }
  - { namespace: shop, name: postgres-0, workload: { kind: StatefulSet, name: postgres }, node: node-a, addresses: [10.1.0.12] }
  - { namespace: batch, name: report-1-x, workload: { kind: CronJob, name: report }, node: node-a, addresses: [10.1.0.13] }
  - { namespace: default, name: debug, node: node-a, addresses: [10.1.0.14] }
`);
    const o = objectsFromInventory(file) as Json;
    assert.deepEqual(o.nodes.map((n: Json) => [n.metadata.name, n.metadata.labels['topology.kubernetes.io/zone'], n.metadata.labels['topology.kubernetes.io/region'], n.status.addresses[0], n.spec.podCIDR, n.spec.podCIDRs]), [
      ['node-a', 'zone-a', 'region-1', { type: 'InternalIP', address: '10.255.0.1' }, '10.1.0.0/24', ['10.1.0.0/24', 'fd01::/64']],
    ]);
    assert.deepEqual(o.pods.map((p: Json) => [p.metadata.namespace, p.metadata.name, p.spec.nodeName, p.status.podIPs.map((i: Json) => i.ip), owner(p)]), [
      ['shop', 'api-0', 'node-a', ['10.1.0.10', 'fd01::10'], 'ReplicaSet/api-5f7c9d'],
      ['shop', 'api-1', 'node-a', ['10.1.0.11'], 'ReplicaSet/api-5f7c9d'],
      ['shop', 'postgres-0', 'node-a', ['10.1.0.12'], 'StatefulSet/postgres'],
      ['batch', 'report-1-x', 'node-a', ['10.1.0.13'], 'Job/report-29000'],
      ['default', 'debug', 'node-a', ['10.1.0.14'], undefined],
    ]);
    assert.deepEqual(o.replicasets.map((r: Json) => [r.metadata.namespace, r.metadata.name, owner(r)]), [['shop', 'api-5f7c9d', 'Deployment/api']], 'one ReplicaSet for both api pods');
    assert.deepEqual(o.jobs.map((j: Json) => [j.metadata.namespace, j.metadata.name, owner(j)]), [['batch', 'report-29000', 'CronJob/report']]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
