import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { FlowTotals, flowResourceMetrics } from '../exporters/otlp/index.ts';
import { decodeRequest, FlowStreams } from '../receivers/otlp/index.ts';
const resource = resourceFromAttributes({ 'service.name': 'zonetap', 'service.instance.id': 'bench-agent' });
const records = Array.from({ length: 2000 }, (_, i) => ({
    src: { address: `10.1.${i >> 8}.${i & 255}`, port: 30000 + (i % 30000), namespace: `team-${i % 40}`, pod: `api-${i}-7d9f8b6c5-x2k4q`, workloadKind: 'Deployment', workloadName: `api-${i % 200}`, node: `node-${i % 50}`, zone: `zone-${i % 3}`, region: 'europe-west1' },
    dst: { address: `10.2.${i >> 8}.${(i * 7) & 255}`, port: 5432, namespace: 'db', pod: `pg-${i % 5}`, workloadKind: 'StatefulSet', workloadName: 'pg', node: `node-${(i + 1) % 50}`, zone: `zone-${(i + 1) % 3}`, region: 'europe-west1' },
    transport: 'tcp', ipFamily: 'ipv4' as const, bytes: 1000, packets: 1, trafficClass: 'cross_zone' as const }));
const totals = new FlowTotals({ ttlMs: 3_600_000, maxSeries: 1_000_000 });
totals.add({ start: 0, end: 1, records });
const series = totals.snapshot().series;
const reqs: Buffer[] = [];
for (let k = 0; k < 30; k++) { for (const s of series) { s.bytes += 1500; s.packets++; } reqs.push(Buffer.from(ProtobufMetricsSerializer.serializeRequest(flowResourceMetrics(resource, series, Date.now() + k * 10000))!)); }
const t = process.cpuUsage();
for (let round = 0; round < 8; round++) { const st = new FlowStreams({ ttlMs: 3_600_000, maxStreams: 1e6 }); for (const r of reqs) st.ingest(decodeRequest(r)); }
const d = process.cpuUsage(t); console.log((d.user + d.system) * 1000 / (8 * 30 * 4000), 'ns/point');
