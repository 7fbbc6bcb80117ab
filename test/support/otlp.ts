/**
 * Test support for the OTLP receiver and exporter: raw gRPC calls and HTTP requests, requests
 * encoded by the official serializer, totals per flow, and credentials made
 * fresh in a temporary directory by openssl (a self-signed certificate, a
 * small PKI for mutual TLS, files holding a bearer token).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Client, credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { flowResourceMetrics } from '../../exporters/otlp/metrics.ts';
import type { FlowSeries, Temporality } from '../../exporters/otlp/store.ts';
import type { FlowAttributes } from '../../pipeline/attributes.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { EXPORT_PATH } from '../../receivers/otlp/proto.ts';

export interface CallResult {
  code: number;
  details: string;
  /** The ExportMetricsServiceResponse, when the call succeeded with one that says something (a partial success). */
  response?: Buffer;
}

/** One MetricsService/Export call with raw request bytes; `deadlineMs` bounds it (DEADLINE_EXCEEDED past it). */
export function rawExport(port: number, body: Uint8Array, options: { metadata?: Metadata; creds?: ChannelCredentials; gzip?: boolean; deadlineMs?: number } = {}): Promise<CallResult> {
  const client = new Client(`127.0.0.1:${port}`, options.creds ?? credentials.createInsecure(), options.gzip ? { 'grpc.default_compression_algorithm': 2 } : {});
  const callOptions = options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs };
  return new Promise((resolve) => {
    client.makeUnaryRequest(EXPORT_PATH, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(body), options.metadata ?? new Metadata(), callOptions, (err, response) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details } : response?.length ? { code: 0, details: '', response } : { code: 0, details: '' });
    });
  });
}

/** A series as the exporter keeps it, for hand-made requests. */
export function series(attributes: FlowAttributes, startMs: number, bytes: number, packets: number): FlowSeries {
  return { key: JSON.stringify(attributes), attributes, startTime: startMs, bytes, packets, costUsd: undefined, lastUpdated: startMs, updates: 1 };
}

/** An ExportMetricsServiceRequest from one agent, encoded by the official serializer. */
export function encodeRequest(instanceId: string, list: FlowSeries[], nowMs: number, temporality: Temporality = 'cumulative'): Uint8Array {
  const resource = resourceFromAttributes({ 'service.name': 'zonetap', 'service.instance.id': instanceId });
  return ProtobufMetricsSerializer.serializeRequest(flowResourceMetrics(resource, list, nowMs, temporality))!;
}

/** Sums bytes and packets per flow (src -> dst) over records. */
export function totalsByFlow(records: readonly FlowRecord[]): Map<string, { bytes: number; packets: number }> {
  const out = new Map<string, { bytes: number; packets: number }>();
  for (const r of records) {
    const key = `${r.src.address}:${r.src.port}->${r.dst.address}:${r.dst.port}/${r.transport}`;
    const t = out.get(key) ?? { bytes: 0, packets: 0 };
    t.bytes += r.bytes;
    t.packets += r.packets;
    out.set(key, t);
  }
  return out;
}

/** A self-signed certificate for 127.0.0.1 (and a CA file = the certificate itself) in a temp dir. */
export function selfSignedCert(): { dir: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'zt-otlp-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=zonetap-gateway', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  return { dir, cert, key };
}

/** A CA, a gateway certificate for 127.0.0.1 and an agent (client) certificate, both signed by the CA. */
export function mutualTlsCerts(): { dir: string; ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const dir = mkdtempSync(join(tmpdir(), 'zt-otlp-mtls-'));
  const p = (name: string) => join(dir, name);
  const run = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore', cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.pem'), '-days', '1', '-subj', '/CN=zonetap-test-ca');
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    writeFileSync(p(`${name}.ext`), `${ext}\n`);
    run('req', ...ec, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=zonetap-${name}`);
    run('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p(`${name}.pem`), '-days', '1', '-extfile', p(`${name}.ext`));
  }
  return { dir, ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key') };
}

/** Writes `content` to a file called `name` in a new temporary directory; returns its path. */
export function writeTemp(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'zt-otlp-'));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * One raw OTLP/HTTP request (POST /v1/metrics, protobuf, unless told
 * otherwise); `gzip` compresses the body and says so. A new connection per
 * request, so that one refusal does not leave the next on a closed socket.
 */
export function httpExport(
  port: number,
  body: Uint8Array | string,
  options: { contentType?: string; gzip?: boolean; headers?: Record<string, string>; path?: string; method?: string; ca?: Buffer } = {},
): Promise<HttpResult> {
  const raw = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  const payload = options.gzip ? gzipSync(raw) : raw;
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/x-protobuf',
    'content-length': String(payload.length),
    connection: 'close',
    ...(options.gzip ? { 'content-encoding': 'gzip' } : {}),
    ...options.headers,
  };
  const send = options.ca ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send({ host: '127.0.0.1', port, path: options.path ?? '/v1/metrics', method: options.method ?? 'POST', headers, ...(options.ca ? { ca: options.ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.end(payload);
  });
}

/**
 * The official SDK pipeline as an OTLP client (any of the official metric
 * exporters): zonetap's flow counters for one flow (1000 + 234 bytes, 10
 * packets, from 10.9.0.1 to 10.9.0.2:443/tcp) and two metrics of other kinds
 * (a histogram, a gauge), in three exports: two flushes and the shutdown.
 */
export async function exportThroughSdk(exporter: PushMetricExporter, instanceId: string): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'sdk-agent', 'service.instance.id': instanceId }), readers: [reader] });
  const meter = provider.getMeter('test');
  const bytes = meter.createCounter('zonetap.network.flow.bytes');
  const packets = meter.createCounter('zonetap.network.flow.packets');
  const attrs = { 'src.address': '10.9.0.1', 'dst.address': '10.9.0.2', 'dst.port': 443, transport: 'tcp', 'network.type': 'ipv4' };
  bytes.add(1000, attrs);
  packets.add(10, attrs);
  meter.createHistogram('http.server.duration').record(12);
  meter.createGauge('zonetap.network.flow.bytes.gauge').record(5);
  await reader.forceFlush();
  bytes.add(234, attrs);
  await reader.forceFlush();
  await provider.shutdown();
}

/** A named cross-zone flow `api-<i>` (shop) -> `pg-0` (db):5432, as an agent sends it: the OTLP receiver's and exporter's tests. */
export function podPairFlow(i: number, bytes: number, packets: number, extra: Partial<FlowRecord> = {}): FlowRecord {
  return {
    src: { address: `10.1.0.${i}`, port: 40000 + i, namespace: 'shop', pod: `api-${i}`, workloadKind: 'Deployment', workloadName: 'api', node: 'node-a', zone: 'zone-a', region: 'r1' },
    dst: { address: '10.2.0.7', port: 5432, namespace: 'db', pod: 'pg-0', workloadKind: 'StatefulSet', workloadName: 'pg', node: 'node-b', zone: 'zone-b', region: 'r1' },
    transport: 'tcp',
    ipFamily: 'ipv4',
    bytes,
    packets,
    trafficClass: 'cross_zone',
    ...extra,
  };
}
