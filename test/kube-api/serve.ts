/**
 * Runs the fake API server as its own process, filled with a synthetic
 * cluster: `node test/kube-api/serve.ts --pods 10000 [--nodes 30] [--zones 3]`, or with the
 * nodes and pods of a zonetap static inventory: `--inventory FILE` (sim/'s clusters).
 * Prints one JSON line `{"url": ..., "pods": N}` when ready, then serves until killed.
 * Benchmarks use it so the server's memory is not counted in theirs.
 */
import { parseArgs } from 'node:util';
import { FakeKubeApiServer } from './server.ts';
import { objectsFromInventory } from './from-inventory.ts';
import { syntheticCluster } from './synthetic.ts';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '1000' }, nodes: { type: 'string', default: '30' }, zones: { type: 'string', default: '3' }, inventory: { type: 'string' } } });
const server = new FakeKubeApiServer({ historyLimit: 1000, bookmarkIntervalMs: 60_000 });
const cluster = values.inventory ? objectsFromInventory(values.inventory) : { jobs: [], ...syntheticCluster(Number(values.pods), Number(values.nodes), Number(values.zones)) };
for (const n of cluster.nodes) server.store.create('nodes', n);
for (const rs of cluster.replicasets) server.store.create('replicasets', rs);
for (const job of cluster.jobs) server.store.create('jobs', job);
for (const p of cluster.pods) server.store.create('pods', p);
await server.start();
console.log(JSON.stringify({ url: server.url, pods: cluster.pods.length }));
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
