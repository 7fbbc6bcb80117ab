/**
 * Gateways sharded by node (README "Scaling out"): agents routed to gateways
 * by a routing key, the node name, as the Collector's `loadbalancing`
 * exporter routes by resource, each shard serving only its agents' flows,
 * and every byte any agent sent counted on exactly one shard. Also when the
 * shards are scaled out under way and some agents move to the new one.
 *
 * Real processes: gateways as shipped (config/gateway.yaml, test/support/
 * gateways.ts) on loopback; agents in this process
 * (test/support/agent-fleet.ts), one connection each, sending the agent's
 * export (delta windows acknowledged once, gzip). The truth is what each
 * gateway acknowledged to each agent, counted by the agents; the shards'
 * figures are their own /metrics.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentFleet, type FleetAgent } from '../support/agent-fleet.ts';
import { startShippedGateway, type ShippedGateway } from '../support/gateways.ts';
import { eventually } from '../support/poll.ts';
import { parseExposition, sumOf } from '../support/prometheus.ts';

const AGENTS = 24;
const SERIES = 20;
const TOKEN = 'shard-token';
const dir = mkdtempSync(join(tmpdir(), 'zt-shards-'));
const shards: ShippedGateway[] = [];
const agents: FleetAgent[] = agentFleet({ agents: AGENTS, series: SERIES, token: TOKEN });
/** Per shard, what its agents were acknowledged (bytes, packets) and which nodes it served. */
const truth = new Map<ShippedGateway, { bytes: number; packets: number; nodes: Set<string> }>();
const routes = new Map<FleetAgent, ShippedGateway>();

/**
 * Rendezvous hashing on the routing key: each key goes to the shard that
 * scores highest for it, so adding a shard moves only the keys that now
 * score highest on the new one (as a consistent-hash ring does).
 */
function shardOf(key: string, of: readonly ShippedGateway[]): ShippedGateway {
  const score = (g: ShippedGateway) => createHash('sha256').update(`${g.process.name}/${key}`).digest().readUInt32BE(0);
  return of.reduce((best, g) => (score(g) > score(best) ? g : best));
}

function route(): number {
  let moved = 0;
  for (const agent of agents) {
    const shard = shardOf(agent.node, shards);
    if (routes.get(agent) === shard) continue;
    if (routes.has(agent)) moved++;
    routes.set(agent, shard);
    agent.route(shard.otlp);
  }
  return moved;
}

/** One export of every agent, each counted for the shard that acknowledged it. */
async function exportAll(): Promise<void> {
  await Promise.all(agents.map(async (agent) => {
    const shard = routes.get(agent)!;
    const [bytes, packets] = [agent.sentBytes, agent.sentPackets];
    await agent.export();
    const t = truth.get(shard)!;
    t.bytes += agent.sentBytes - bytes;
    t.packets += agent.sentPackets - packets;
    t.nodes.add(agent.node);
  }));
}

async function addShard(): Promise<void> {
  const shard = await startShippedGateway(`shard-${shards.length}`, dir, TOKEN, { agents: AGENTS, streams: AGENTS * SERIES });
  shards.push(shard);
  truth.set(shard, { bytes: 0, packets: 0, nodes: new Set() });
}

/** What a shard serves on /metrics: flow bytes and packets, and the source nodes of its series. */
async function served(shard: ShippedGateway): Promise<{ bytes: number; packets: number; nodes: Set<string> }> {
  const samples = parseExposition(await (await fetch(shard.metricsUrl, { signal: AbortSignal.timeout(10_000) })).text());
  const nodes = new Set(samples.filter((s) => s.name === 'zonetap_network_flow_bytes_total').map((s) => s.labels.k8s_src_node_name!));
  return { bytes: sumOf(samples, 'zonetap_network_flow_bytes_total'), packets: sumOf(samples, 'zonetap_network_flow_packets_total'), nodes };
}

before(async () => {
  for (let i = 0; i < 3; i++) await addShard();
});

after(async () => {
  for (const agent of agents) agent.close();
  await Promise.all(shards.map((g) => g.process.stop(10_000)));
  rmSync(dir, { recursive: true, force: true });
});

test('agents routed by node to three shards, then four: per-shard totals add up exactly to what the agents sent', async () => {
  route();
  for (let round = 0; round < 3; round++) await exportAll();
  // Every shard got a share (24 nodes over 3 shards), and each node went to one shard only.
  for (const shard of shards) assert.ok(truth.get(shard)!.nodes.size > 0, `${shard.otlp} got no agents`);

  await addShard(); // scale out: the ring changes, some nodes move to the new shard
  const moved = route();
  assert.ok(moved > 0 && moved < AGENTS, `${moved} of ${AGENTS} agents moved to the new shard: expected some, not all`);
  for (let round = 0; round < 3; round++) await exportAll();

  const sentBytes = agents.reduce((n, a) => n + a.sentBytes, 0);
  const sentPackets = agents.reduce((n, a) => n + a.sentPackets, 0);
  assert.equal(sentBytes, AGENTS * SERIES * 6 * agents[0]!.bytesPerWindow, 'every export of every agent was acknowledged');
  // New label sets show 0 until a render held them (exporters/prometheus): wait for the counts, which never pass the truth.
  const shown = await eventually(async () => {
    const all = await Promise.all(shards.map(served));
    all.forEach((s, i) => {
      const t = truth.get(shards[i]!)!;
      assert.deepEqual({ bytes: s.bytes, packets: s.packets }, { bytes: t.bytes, packets: t.packets }, `shard ${i} (${shards[i]!.otlp})`);
    });
    return all;
  }, { timeoutMs: 30_000 });
  assert.equal(shown.reduce((n, s) => n + s.bytes, 0), sentBytes);
  assert.equal(shown.reduce((n, s) => n + s.packets, 0), sentPackets);
  // Each shard serves the flows of the nodes routed to it, and no other's.
  shown.forEach((s, i) => assert.deepEqual([...s.nodes].sort(), [...truth.get(shards[i]!)!.nodes].sort(), `source nodes on shard ${i}`));
});
