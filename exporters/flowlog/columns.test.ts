/** A batch of columns is written byte for byte as the same batch of records. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OVERFLOW_TRANSPORT, TRAFFIC_CLASSES, type FlowEndpoint, type FlowRecord } from '../../pipeline/flow.ts';
import { ColumnBatch, columnsFromRecords } from '../../pipeline/columns.ts';
import { testSettings } from '../../test/support/components.ts';
import { flowlogExporterFactory, type FlowlogExporter } from './index.ts';

const T0 = Date.parse('2026-11-26T10:00:00.000Z');

/** Records with every feature a flow log line can show, some ends shared between records. */
function records(count: number): FlowRecord[] {
  let seed = 11;
  const random = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const pick = <T>(xs: readonly T[]): T => xs[random(xs.length)]!;
  const ends: FlowEndpoint[] = [
    { address: '10.1.0.5', port: 0 },
    { address: '10.1.0.6', port: 0, namespace: 'shop', pod: 'api-1', workloadName: 'api', workloadKind: 'Deployment', node: 'node-a', zone: 'zone-a', region: 'r1', podLabels: { team: 'pay "x"', app: 'api' }, namespaceLabels: { env: 'prod' } },
    { address: 'fd00::1', port: 0, hostNetwork: true, node: 'node-b', zone: 'zone-b' },
    { address: '10.2.0.7', port: 0, namespace: 'db', pod: 'db-0', service: 'db', serviceNamespace: 'db', serviceTopologyAware: true, zone: 'zone-b' },
    { address: '52.1.2.3', port: 0, workloadKind: 'External', workloadName: 's3', externalKind: 'cloud_provider', region: 'r1' },
    { address: '', port: 0, namespace: 'quiet', namespaceLabels: { 'a\\b': 'ü\n' } },
    { address: '', port: 0 },
  ];
  return Array.from({ length: count }, (): FlowRecord => {
    const overflow = random(20) === 0;
    const r: FlowRecord = {
      src: { ...pick(ends), port: random(3) === 0 ? 0 : random(65536) },
      dst: { ...pick(ends), port: random(3) === 0 ? 0 : random(65536) },
      transport: overflow ? OVERFLOW_TRANSPORT : pick(['tcp', 'udp', 'icmp', '132']),
      ipFamily: pick(['ipv4', 'ipv6'] as const),
      bytes: random(2) === 0 ? random(1e9) * 1e6 : random(100),
      packets: random(1000),
    };
    if (random(4) !== 0) r.trafficClass = pick(TRAFFIC_CLASSES);
    if (random(10) === 0) r.ignored = true;
    return r;
  });
}

async function written(t: { after(fn: () => void): void }, config: Record<string, unknown>, batch: () => ConstructorParameters<typeof ColumnBatch>[2] | FlowRecord[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'zt-flowlog-columns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'flows.jsonl');
  const e = flowlogExporterFactory.create(testSettings('flowlog', 'exporter'), flowlogExporterFactory.configSchema.parse({ path, ...config })) as FlowlogExporter;
  await e.start();
  const input = batch();
  await e.consume(Array.isArray(input) ? { start: T0, end: T0 + 30_000, records: input } : new ColumnBatch(T0, T0 + 30_000, input));
  await e.shutdown();
  return readFileSync(path, 'utf8');
}

test('columns are written byte for byte as their records: every attribute, labels, ports 0, classes, ignored, overflow', async (t) => {
  const input = records(5000);
  for (const config of [{}, { classes: ['cross_zone', 'internet', 'same_region'] }]) {
    const fromRecords = await written(t, config, () => input);
    const fromColumns = await written(t, config, () => columnsFromRecords(input));
    assert.ok(fromRecords.length > 100_000, `${fromRecords.length} characters`);
    assert.equal(fromColumns, fromRecords, JSON.stringify(config));
  }
});
