/**
 * Every ready-made config in config/ validates against the real factories, with
 * the environment variables it documents set (paths point at real files).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FACTORIES } from '../cli/factories.ts';
import { loadConfig } from '../pipeline/config/load.ts';
import { FactoryRegistry } from '../pipeline/registry.ts';

const dir = join(import.meta.dirname, '..', 'config');
const env = {
  NODE_NAME: 'node-a',
  POD_IP: '127.0.0.1',
  ZONETAP_OTLP_TOKEN: 'token-from-the-secret',
  ZONETAP_OTLP_TOKEN_FILE: join(dir, 'gateway.yaml'), // any existing file: only its existence is checked here
  ZONETAP_INVENTORY: join(dir, 'inventory.example.yaml'),
  ZONETAP_NETNS: '/proc/self/ns/net',
  ZONETAP_GATEWAY: '127.0.0.1:4317',
  ZONETAP_INTERVAL: '5s',
  ZONETAP_TELEMETRY: '127.0.0.1:0',
  ZONETAP_PROMETHEUS: '127.0.0.1:9464',
  ZONETAP_FLOWLOG: '/tmp/zonetap-flows.jsonl',
  PROVIDER: 'gcp',
};

describe('shipped configs', () => {
  const registry = new FactoryRegistry(FACTORIES);
  const configs = readdirSync(dir).filter((f) => f.endsWith('.yaml') && !f.includes('inventory'));
  it('config/ holds the agent, gateway and standalone shapes', () => {
    for (const shape of ['agent.yaml', 'gateway.yaml', 'standalone.yaml']) assert.ok(configs.includes(shape), `config/${shape} is missing`);
  });
  for (const file of configs) {
    it(`config/${file} is valid`, async () => {
      const config = await loadConfig([join(dir, file)], registry, { env: { ...process.env, ...env } });
      assert.ok(config.pipelines.size > 0);
    });
  }
});
