/**
 * Runs the fake API server as its own process, filled with a synthetic
 * cluster: `node test/kube-api/serve.ts --pods 10000 [--nodes 30] [--zones 3] [--no-services]`, or with the
 * nodes and pods of a zonetap static inventory: `--inventory FILE` (sim/'s clusters), to which
 * `--pods N` adds N synthetic pods (and their nodes).
 * Prints one JSON line `{"url": ..., "pods": N}` when ready, then serves until killed.
 * Benchmarks use it so the server's memory is not counted in theirs.
 */
import { parseArgs } from 'node:util';
import { FakeKubeApiServer } from './server.ts';
import { objectsFromInventory } from './from-inventory.ts';
import { syntheticCluster } from './synthetic.ts';

const { values } = parseArgs({ options: { pods: { type: 'string' }, nodes: { type: 'string', default: '30' }, zones: { type: 'string', default: '3' }, inventory: { type: 'string' }, 'no-services': { type: 'boolean' } } });
const server = new FakeKubeApiServer({ historyLimit: 1000, bookmarkIntervalMs: 60_000 });
// An inventory's cluster, plus synthetic pods when --pods is given too (a realistic cluster size around it).
const listed = values.inventory ? objectsFromInventory(values.inventory) : { nodes: [], replicasets: [], jobs: [], pods: [] };
const synthetic = syntheticCluster(Number(values.pods ?? (values.inventory ? 0 : 1000)), Number(values.nodes), Number(values.zones), { services: !values['no-services'] });
const cluster = { nodes: [...listed.nodes, ...synthetic.nodes], replicasets: [...listed.replicasets, ...synthetic.replicasets], jobs: listed.jobs, pods: [...listed.pods, ...synthetic.pods] };
for (const ns of synthetic.namespaces) server.store.create('namespaces', ns);
for (const svc of synthetic.services) server.store.create('services', svc);
for (const slice of synthetic.endpointslices) server.store.create('endpointslices', slice);
for (const n of cluster.nodes) server.store.create('nodes', n);
for (const rs of cluster.replicasets) server.store.create('replicasets', rs);
for (const job of cluster.jobs) server.store.create('jobs', job);
for (const p of cluster.pods) server.store.create('pods', p);
await server.start();
console.log(JSON.stringify({ url: server.url, pods: cluster.pods.length }));
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
