/**
 * Writes the static inventory of a topology without building anything:
 *   node sim/write-inventory.ts sim/topologies/demo.yaml config/demo-inventory.yaml
 */
import { writeInventory } from './inventory.ts';
import { loadTopology, planCluster } from './topology.ts';

const [topology, out] = process.argv.slice(2);
if (!topology || !out) {
  process.stderr.write('usage: node sim/write-inventory.ts TOPOLOGY.yaml OUT.yaml\n');
  process.exit(2);
}
writeInventory(planCluster(loadTopology(topology)), out);
