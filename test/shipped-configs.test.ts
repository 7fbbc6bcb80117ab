/**
 * Every ready-made config in config/ loads against the real factories, with
 * the environment variables it documents set (paths point at real files), and
 * builds what its comments promise: its pipeline, its components and the
 * settings that make its shape (where it listens, where it sends, what it
 * keeps). The expectations are written out from the YAML, as a user reads it.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FACTORIES } from '../cli/factories.ts';
import { loadConfig } from '../pipeline/config/load.ts';
import type { ComponentConfig } from '../pipeline/config/types.ts';
import { FactoryRegistry } from '../pipeline/registry.ts';

const dir = join(import.meta.dirname, '..', 'config');
const INVENTORY = join(dir, 'inventory.example.yaml');
const env = {
  NODE_NAME: 'node-a',
  POD_IP: '127.0.0.1',
  POD_NAME: 'db-0',
  POD_NAMESPACE: 'shop',
  ZONETAP_OTLP_TOKEN: 'token-from-the-secret',
  ZONETAP_OTLP_TOKEN_FILE: join(dir, 'gateway.yaml'), // any existing file: only its existence is checked here
  ZONETAP_INVENTORY: INVENTORY,
  ZONETAP_NETNS: '/proc/self/ns/net',
  ZONETAP_CGROUP_ROOT: '/sys/fs/cgroup',
  ZONETAP_CGROUP_PATH: '/zt-demo-n-node-a',
  ZONETAP_GATEWAY: '127.0.0.1:4317',
  ZONETAP_INTERVAL: '5s',
  ZONETAP_TELEMETRY: '127.0.0.1:0',
  ZONETAP_PROMETHEUS: '127.0.0.1:9464',
  ZONETAP_FLOWLOG: '/tmp/zonetap-flows.jsonl',
  PROVIDER: 'gcp',
};

interface Shape {
  /** The one pipeline, `flows`: component IDs in order. */
  pipeline: { receivers: string[]; processors: string[]; exporters: string[] };
  telemetry: { metricsEndpoint: string | null; logLevel: string };
  /** Per component ID, the settings that make the shape (a subset of its parsed config; durations in ms). */
  settings: Record<string, Record<string, unknown>>;
}

/** What never leaves a host's or a pod's links: loopback, link-local, multicast. */
const LINK_LOCAL = ['127.0.0.0/8', '::1/128', '169.254.0.0/16', 'fe80::/10', '224.0.0.0/4', 'ff00::/8'];

/** Both sidecar configs count, name and price alike: in the pod's namespace, every source the pod itself. */
const SIDECAR_COUNTING = {
  netfilter: { interval: 10_000, max_flows: 16_384, ip_families: ['ipv4', 'ipv6'], exclude_cidrs: LINK_LOCAL },
  k8sattributes: { source: 'kubernetes', pod_name: 'db-0', pod_namespace: 'shop', sync_timeout: 10_000 },
  cost: { provider: 'aws' },
};

/** A gateway's bounds on what senders may do (receivers/otlp/README.md "Connections"): the defaults. */
const GRPC_BOUNDS = {
  max_recv_msg_size_mib: 4,
  max_connections: 4096,
  max_concurrent_streams: 16,
  keepalive: { server_parameters: { max_connection_idle: 120_000, max_connection_age: 1_800_000, max_connection_age_grace: 30_000 } },
};
/** The same for OTLP/HTTP: the defaults. */
const HTTP_BOUNDS = {
  idle_timeout: 120_000,
  max_concurrent_requests: 64,
  max_connection_age: 1_800_000,
  max_connections: 4096,
  max_request_body_size: 4 * 2 ** 20,
  metrics_url_path: '/v1/metrics',
  read_timeout: 60_000,
};

const SHAPES: Record<string, Shape> = {
  // Agent of the gateway shape: counts, names both ends (its own node's flows only), rolls up to pods, sends to its zone's gateway.
  'agent.yaml': {
    pipeline: { receivers: ['netfilter'], processors: ['k8sattributes', 'aggregate'], exporters: ['otlp'] },
    // Telemetry on the pod IP only (a hostNetwork pod would otherwise serve on every node address).
    telemetry: { metricsEndpoint: '[127.0.0.1]:8888', logLevel: 'info' },
    settings: {
      netfilter: { interval: 10_000, max_flows: 65_536, ip_families: ['ipv4', 'ipv6'] },
      k8sattributes: { source: 'kubernetes', node_name: 'node-a', pod_delete_grace: 120_000 },
      aggregate: { by: 'pod' },
      // Deltas: what no gateway acknowledged, applied once however gateways restart or fail over.
      // OTLP/HTTP: no http2 or grpc-js in every agent (README "The agent's footprint").
      otlp: { protocol: 'http/protobuf', endpoint: 'zonetap-gateway.zonetap.svc:4318', tls: { insecure: true }, headers: { authorization: 'Bearer token-from-the-secret' }, compression: 'gzip', interval: 10_000, temporality: 'delta' },
    },
  },
  // Gateway: OTLP in from the agents, classified and priced, Prometheus out; no Kubernetes access.
  'gateway.yaml': {
    pipeline: { receivers: ['otlp'], processors: ['crosszone', 'cost'], exporters: ['prometheus'] },
    telemetry: { metricsEndpoint: '0.0.0.0:8888', logLevel: 'info' },
    settings: {
      // Only agents that present the token (the Secret's file; any existing file passes validation here).
      // OTLP/HTTP from zonetap's agents, gRPC for other senders: one token for both.
      otlp: { protocols: { grpc: { ...GRPC_BOUNDS, endpoint: '0.0.0.0:4317', auth: { bearer_token_file: join(dir, 'gateway.yaml') } }, http: { ...HTTP_BOUNDS, endpoint: '0.0.0.0:4318', auth: { bearer_token_file: join(dir, 'gateway.yaml') } } } },
      cost: { provider: 'aws' },
      prometheus: { endpoint: '0.0.0.0:9464' },
    },
  },
  // A sidecar in one workload's pods: counts in the pod's namespace (not its links' local traffic),
  // names every source after the pod itself, serves the pod's flows to Prometheus on the pod IP.
  'sidecar.yaml': {
    pipeline: { receivers: ['netfilter'], processors: ['k8sattributes', 'crosszone', 'cost'], exporters: ['prometheus'] },
    telemetry: { metricsEndpoint: '[127.0.0.1]:18888', logLevel: 'info' },
    settings: { ...SIDECAR_COUNTING, prometheus: { endpoint: '127.0.0.1:19464' } },
  },
  // The same sidecar sending to a gateway (or any OTLP backend) with the gateway's token.
  'sidecar-otlp.yaml': {
    pipeline: { receivers: ['netfilter'], processors: ['k8sattributes', 'crosszone', 'cost'], exporters: ['otlp'] },
    telemetry: { metricsEndpoint: '[127.0.0.1]:18888', logLevel: 'info' },
    settings: { ...SIDECAR_COUNTING, otlp: { endpoint: '127.0.0.1:4317', tls: { insecure: true }, headers: { authorization: 'Bearer token-from-the-secret' }, interval: 10_000, temporality: 'delta' } },
  },
  // One host doing everything, with a static inventory; flow log of the billed classes on stdout.
  'standalone.yaml': {
    pipeline: { receivers: ['netfilter'], processors: ['k8sattributes', 'crosszone', 'cost'], exporters: ['prometheus', 'flowlog'] },
    telemetry: { metricsEndpoint: '127.0.0.1:8888', logLevel: 'info' },
    settings: {
      netfilter: { interval: 10_000, max_flows: 65_536, ip_families: ['ipv4', 'ipv6'], exclude_cidrs: LINK_LOCAL },
      k8sattributes: { source: 'static', inventory: INVENTORY },
      cost: { provider: 'gcp' },
      prometheus: { endpoint: '127.0.0.1:9464' },
      flowlog: { path: 'stdout', classes: ['cross_zone', 'cross_region', 'internet'] },
    },
  },
  // The demo's agent: every setting comes from the demo's variables.
  'demo-agent.yaml': {
    pipeline: { receivers: ['netfilter'], processors: ['k8sattributes'], exporters: ['otlp'] },
    telemetry: { metricsEndpoint: '127.0.0.1:0', logLevel: 'warn' },
    settings: {
      netfilter: { interval: 5000, ip_families: ['ipv4', 'ipv6'], netns: '/proc/self/ns/net' },
      k8sattributes: { source: 'static', inventory: INVENTORY, node_name: 'node-a' },
      otlp: { endpoint: '127.0.0.1:4317', tls: { insecure: true }, interval: 5000, temporality: 'delta' },
    },
  },
  // The demo's agent with RECEIVER=cgroup: the cgroup receiver on its node's pods' cgroups.
  'demo-agent-cgroup.yaml': {
    pipeline: { receivers: ['cgroup'], processors: ['k8sattributes'], exporters: ['otlp'] },
    telemetry: { metricsEndpoint: '127.0.0.1:0', logLevel: 'warn' },
    settings: {
      cgroup: { interval: 5000, cgroup_root: '/sys/fs/cgroup', cgroup_path: '/zt-demo-n-node-a' },
      k8sattributes: { source: 'static', inventory: INVENTORY, node_name: 'node-a' },
      otlp: { endpoint: '127.0.0.1:4317', tls: { insecure: true }, interval: 5000 },
    },
  },
  // The demo's gateway: names the agents' flows from the inventory, then as gateway.yaml, plus a flow log of every flow.
  'demo-gateway.yaml': {
    pipeline: { receivers: ['otlp'], processors: ['k8sattributes', 'crosszone', 'cost'], exporters: ['prometheus', 'flowlog'] },
    telemetry: { metricsEndpoint: '127.0.0.1:0', logLevel: 'warn' },
    settings: {
      otlp: { protocols: { grpc: { ...GRPC_BOUNDS, endpoint: '127.0.0.1:4317' } } },
      k8sattributes: { source: 'static', inventory: INVENTORY },
      cost: { provider: 'gcp' },
      prometheus: { endpoint: '127.0.0.1:9464' },
      flowlog: { path: '/tmp/zonetap-flows.jsonl', classes: undefined },
    },
  },
  // The quick start: a recorded demo replayed at its recorded pace, priced again, to Prometheus and the terminal.
  'quickstart.yaml': {
    pipeline: { receivers: ['replay'], processors: ['crosszone', 'cost'], exporters: ['prometheus', 'console'] },
    telemetry: { metricsEndpoint: '127.0.0.1:8888', logLevel: 'warn' },
    settings: {
      replay: { path: 'config/quickstart-flows.jsonl', interval: 673, loop: true },
      cost: { provider: 'gcp' },
      prometheus: { endpoint: '127.0.0.1:9464' },
      console: { interval: 5000, top: 5 },
    },
  },
};

/** The keys of `expected` taken from `config`. */
function subset(config: unknown, expected: Record<string, unknown>): Record<string, unknown> {
  const all = config as Record<string, unknown>;
  // CIDR lists as written (the schema parses each into its numbers and keeps the text).
  const written = (v: unknown) => (Array.isArray(v) ? v.map((x) => (typeof x === 'object' && x !== null && 'text' in x ? x.text : x)) : v);
  return Object.fromEntries(Object.keys(expected).map((k) => [k, written(all[k])]));
}

describe('shipped configs', () => {
  const registry = new FactoryRegistry(FACTORIES);
  const configs = readdirSync(dir).filter((f) => f.endsWith('.yaml') && !f.includes('inventory'));
  it('config/ holds the agent, gateway, sidecar and standalone shapes, and this test knows every config there', () => {
    for (const shape of ['agent.yaml', 'gateway.yaml', 'sidecar.yaml', 'sidecar-otlp.yaml', 'standalone.yaml']) assert.ok(configs.includes(shape), `config/${shape} is missing`);
    assert.deepEqual(configs.toSorted(), Object.keys(SHAPES).toSorted(), 'add the new config\'s shape to SHAPES');
  });
  for (const file of configs) {
    it(`config/${file} builds its pipeline, components and settings`, async () => {
      const config = await loadConfig([join(dir, file)], registry, { env: { ...process.env, ...env } });
      const shape = SHAPES[file];
      assert.ok(shape, `no expected shape for config/${file}`);
      assert.deepEqual([...config.pipelines.values()], [{ id: 'flows', ...shape.pipeline }]);
      assert.deepEqual(config.telemetry, { logEncoding: 'json', ...shape.telemetry });
      assert.deepEqual(config.warnings, [], 'every component is in the pipeline');
      const components = new Map<string, ComponentConfig>([...config.receivers, ...config.processors, ...config.exporters]);
      const ids = [...shape.pipeline.receivers, ...shape.pipeline.processors, ...shape.pipeline.exporters];
      assert.deepEqual([...components.keys()], ids, 'components defined: those of the pipeline');
      for (const [id, expected] of Object.entries(shape.settings)) assert.deepEqual(subset(components.get(id)!.config, expected), expected, `${file}: ${id}`);
    });
  }
});
