import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse } from 'yaml';
import { loadConfig } from '../../pipeline/config/load.ts';
import { FactoryRegistry } from '../../pipeline/registry.ts';
import { Service } from '../../pipeline/service.ts';
import { Lifecycle, NO_DEADLINE, contextWithTimeout } from '../../pipeline/lifecycle.ts';
import { RecordingConsumer, testSettings } from '../../test/support/components.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';
import { otlpReceiverFactory, type OtlpReceiver } from '../../receivers/otlp/index.ts';
import { freePort, PausableProxy } from '../../test/support/loopback.ts';
import { sleep, until } from '../../test/support/poll.ts';
import { ExportClock, FlowTotals, httpMetricsUrl, OVERFLOW_ATTRIBUTES, otlpExporterConfigSchema, otlpExporterFactory, type OtlpExporter } from './index.ts';

/** The shutdown deadline tests give components: the service's default. */
const stopWithin = () => contextWithTimeout(10_000);

const testdata = (name: string) => parse(readFileSync(new URL(`testdata/${name}`, import.meta.url), 'utf8'));
const issues = (name: string) => otlpExporterConfigSchema.safeParse(testdata(name)).error?.issues.map((i) => `${i.path.join('::')}: ${i.message}`);

function flow(i: number, bytes: number): FlowRecord {
  return { src: { address: `10.0.${i >> 8}.${i & 255}`, port: 1000 + i }, dst: { address: '10.9.9.9', port: 80 }, transport: 'tcp', ipFamily: 'ipv4', bytes, packets: 1 };
}

describe('otlp exporter config', () => {
  test('defaults', () => {
    assert.deepEqual(otlpExporterFactory.configSchema.parse({}), {
      protocol: 'grpc',
      endpoint: '127.0.0.1:4317',
      tls: { insecure: false },
      headers: {},
      compression: 'gzip',
      interval: 10_000,
      timeout: 10_000,
      retry_on_failure: { initial_interval: 1000, max_interval: 30_000 },
      temporality: 'cumulative',
      series_ttl: 900_000,
      max_series: 100_000,
      max_series_per_request: 1000,
    });
    const agent = otlpExporterConfigSchema.parse(testdata('agent.yaml'));
    assert.equal(agent.headers.authorization, 'Bearer abc');
    assert.equal(agent.temporality, 'delta');
  });

  test('broken configs say what is wrong and where', () => {
    assert.deepEqual(issues('bad-fields.yaml'), [
      'endpoint: invalid endpoint "gateway.zonetap.svc": expected host:port, like 127.0.0.1:4317 or [::1]:4317 (with protocol http/protobuf or http/json, also a URL like https://gateway:4318)',
      'compression: expected gzip or none',
      'interval: invalid duration "10 seconds": expected a positive number with a unit (ms, s, m, h), like 10s',
      'temporality: expected cumulative or delta',
    ]);
    assert.deepEqual(issues('bad-tls.yaml'), ['tls::key_file: cert_file and key_file must be given together']);
    assert.deepEqual(issues('bad-http.yaml'), [
      'protocol: expected grpc, http/protobuf or http/json',
      'endpoint: invalid endpoint URL "https://gateway.zonetap.svc:4318/otlp?x=1": no query, fragment or credentials',
    ]);
    assert.deepEqual(issues('bad-url-grpc.yaml'), ['endpoint: a URL endpoint is for protocol http/protobuf or http/json; for grpc give host:port']);
    assert.deepEqual(issues('bad-https-insecure.yaml'), ['tls::insecure: insecure: true with an https:// endpoint: use http:// for plain text']);
  });

  test('OTLP/HTTP: port 4318 by default; host:port takes its scheme from tls.insecure, a URL is a base for /v1/metrics', () => {
    const parse = (config: Record<string, unknown>) => httpMetricsUrl(otlpExporterConfigSchema.parse(config));
    assert.equal(otlpExporterConfigSchema.parse({ protocol: 'http/protobuf' }).endpoint, '127.0.0.1:4318');
    assert.equal(parse({ protocol: 'http/protobuf' }), 'https://127.0.0.1:4318/v1/metrics');
    assert.equal(parse(testdata('agent-http.yaml')), 'http://gateway.zonetap.svc:4318/v1/metrics');
    assert.equal(parse({ protocol: 'http/json', endpoint: '[::1]:4318', tls: { insecure: true } }), 'http://[::1]:4318/v1/metrics');
    assert.equal(parse({ protocol: 'http/json', endpoint: 'https://otlp.example.com/otlp/' }), 'https://otlp.example.com/otlp/v1/metrics');
    assert.equal(parse({ protocol: 'http/protobuf', endpoint: 'http://gateway:4318' }), 'http://gateway:4318/v1/metrics');
  });
});

describe('flow totals store', () => {
  test('an acknowledged idle series expires; an unacknowledged one is kept however old', () => {
    let now = 1_000_000;
    const totals = new FlowTotals({ ttlMs: 60_000, maxSeries: 10, now: () => now });
    totals.add({ start: 0, end: 0, records: [flow(1, 10), flow(2, 20)] });
    const first = totals.snapshot('cumulative');
    totals.acknowledge(first.filter((p) => p.series.attributes['src.address'] === '10.0.0.1'), now);
    now += 120_000;
    const later = totals.snapshot('cumulative');
    assert.deepEqual(later.map((p) => [p.attributes['src.address'], p.bytes]), [['10.0.0.2', 20]]);
    totals.acknowledge(later, now);
    assert.equal(totals.snapshot('cumulative').length, 0);
  });

  test('a change after the snapshot keeps the series unacknowledged', () => {
    let now = 0;
    const totals = new FlowTotals({ ttlMs: 10, maxSeries: 10, now: () => now });
    totals.add({ start: 0, end: 0, records: [flow(1, 10)] });
    const snap = totals.snapshot('cumulative');
    totals.add({ start: 0, end: 0, records: [flow(1, 5)] });
    totals.acknowledge(snap, now);
    now = 1000;
    assert.deepEqual(totals.snapshot('cumulative').map((p) => p.bytes), [15]);
  });

  test('delta: a window stays open (same start, growing value) until acknowledged, then the next starts at the export time', () => {
    let now = 1000;
    const totals = new FlowTotals({ ttlMs: 60_000, maxSeries: 10, now: () => now });
    totals.add({ start: 0, end: 0, records: [flow(1, 100), flow(2, 7)] });
    const sent = totals.snapshot('delta');
    assert.deepEqual(sent.map((p) => [p.startTime, p.bytes]), [[1000, 100], [1000, 7]], 'first window: since the series started');
    now = 2000;
    totals.add({ start: 0, end: 0, records: [flow(1, 50)] });
    const resent = totals.snapshot('delta');
    assert.deepEqual(resent.map((p) => [p.startTime, p.bytes]), [[1000, 150], [1000, 7]], 'not acknowledged: the same window, with what came since');
    totals.acknowledge(resent, 2500);
    assert.equal(totals.snapshot('delta').length, 0, 'nothing new: nothing to send');
    now = 3000;
    totals.add({ start: 0, end: 0, records: [flow(1, 1), { ...flow(1, 2), costUsd: 0.5 }] });
    assert.deepEqual(totals.snapshot('delta').map((p) => [p.startTime, p.bytes, p.packets, p.costUsd]), [[2500, 3, 2, 0.5]], 'a new window from the acknowledged export');
  });

  test('delta: counts added while an export is in flight stay for the next window', () => {
    const totals = new FlowTotals({ ttlMs: 60_000, maxSeries: 10, now: () => 10 });
    totals.add({ start: 0, end: 0, records: [flow(1, 100)] });
    const inFlight = totals.snapshot('delta');
    totals.add({ start: 0, end: 0, records: [flow(1, 30)] });
    totals.acknowledge(inFlight, 20);
    assert.deepEqual(totals.snapshot('delta').map((p) => [p.startTime, p.bytes]), [[20, 30]]);
  });

  test('export times are later than every time given before: in the same millisecond, and when the system clock steps back', (t) => {
    let wall = 5000;
    t.mock.method(Date, 'now', () => wall);
    const clock = new ExportClock();
    const seen = clock.now(); // a series first seen now: its first window starts here
    const first = clock.exportTime();
    assert.ok(first > seen, 'the export that acknowledges it closes a window that started earlier');
    wall = 1000; // NTP steps the clock back
    assert.equal(clock.now(), first);
    const second = clock.exportTime();
    assert.ok(second > first);
    wall = 9000;
    assert.equal(clock.exportTime(), 9000);
  });

  test('past max_series, new attribute sets fold into one overflow series: totals conserved', () => {
    const totals = new FlowTotals({ ttlMs: 60_000, maxSeries: 3 });
    totals.add({ start: 0, end: 0, records: Array.from({ length: 10 }, (_, i) => flow(i, 100)) });
    const points = totals.snapshot('cumulative');
    assert.equal(points.length, 4, 'three series and the overflow series');
    assert.equal(points.reduce((n, s) => n + s.bytes, 0), 1000);
    assert.deepEqual(points.at(-1)!.attributes, OVERFLOW_ATTRIBUTES);
    assert.equal(totals.overflowRecords, 7);
  });
});

describe('otlp exporter while the gateway is down', () => {
  test('memory stays bounded by max_series (no queue), and the totals arrive once the gateway is up', async () => {
    const port = await freePort();
    const exporter = otlpExporterFactory.create(
      testSettings('otlp', 'exporter'),
      otlpExporterConfigSchema.parse({ endpoint: `127.0.0.1:${port}`, tls: { insecure: true }, interval: '50ms', timeout: '500ms', max_series: 200, retry_on_failure: { initial_interval: '20ms', max_interval: '100ms' } }),
    ) as OtlpExporter;
    await exporter.start();
    let sent = 0;
    for (let round = 0; round < 20; round++) {
      // Churning pods: every round brings 50 new flows.
      await exporter.consume({ start: 0, end: 0, records: Array.from({ length: 50 }, (_, i) => flow(round * 50 + i, 10)) });
      sent += 500;
      await sleep(10);
    }
    assert.equal(exporter.seriesCount, 201, '200 series and the overflow series');
    const sink = new RecordingConsumer();
    const receiver = otlpReceiverFactory.create(testSettings('otlp', 'receiver'), otlpReceiverFactory.configSchema.parse({ protocols: { grpc: { endpoint: `127.0.0.1:${port}` } } }), sink) as OtlpReceiver;
    await receiver.start();
    try {
      await until('the totals at the gateway', () => sink.records.reduce((n, r) => n + r.bytes, 0) >= sent);
      assert.equal(sink.records.reduce((n, r) => n + r.bytes, 0), sent);
    } finally {
      await exporter.shutdown(stopWithin());
      await receiver.shutdown(stopWithin());
    }
  });

  test('shutdown flushes the totals one last time, and refuses records after it; shutdown without start is safe and idempotent', async () => {
    const sink = new RecordingConsumer();
    const receiver = otlpReceiverFactory.create(testSettings('otlp', 'receiver'), otlpReceiverFactory.configSchema.parse({ protocols: { grpc: { endpoint: '127.0.0.1:0' } } }), sink) as OtlpReceiver;
    await receiver.start();
    const exporter = otlpExporterFactory.create(testSettings('otlp', 'exporter'), otlpExporterConfigSchema.parse({ endpoint: `127.0.0.1:${receiver.port}`, tls: { insecure: true }, interval: '1h' }));
    await exporter.start(NO_DEADLINE);
    await exporter.consume({ start: 0, end: 0, records: [flow(1, 77)] });
    const guarded = new Lifecycle(exporter);
    await Promise.all([guarded.shutdown(stopWithin()), guarded.shutdown(stopWithin())]);
    assert.deepEqual(sink.records.map((r) => r.bytes), [77]);
    // Past the final flush nothing would carry them: the service logs and counts them as dropped.
    await assert.rejects(exporter.consume({ start: 0, end: 0, records: [flow(2, 5)] }), /otlp exporter "otlp" is shut down: 1 records not exported/);
    const never = otlpExporterFactory.create(testSettings('otlp', 'exporter'), otlpExporterConfigSchema.parse({}));
    await never.shutdown(stopWithin());
    await never.shutdown(stopWithin());
    await receiver.shutdown(stopWithin());
  });
});

describe('otlp exporter final flush', () => {
  test('the gateway is down at shutdown and comes up 1 s later: the flush retries and delivers', async () => {
    const sink = new RecordingConsumer();
    const receiver = otlpReceiverFactory.create(testSettings('otlp', 'receiver'), otlpReceiverFactory.configSchema.parse({ protocols: { grpc: { endpoint: '127.0.0.1:0' } } }), sink) as OtlpReceiver;
    await receiver.start();
    const proxy = new PausableProxy(receiver.port);
    await proxy.up();
    await proxy.down();
    const exporter = otlpExporterFactory.create(testSettings('otlp', 'exporter'), otlpExporterConfigSchema.parse({ endpoint: `127.0.0.1:${proxy.port}`, tls: { insecure: true }, interval: '1h', timeout: '1s' }));
    try {
      await exporter.start(NO_DEADLINE);
      await exporter.consume({ start: 0, end: 0, records: [flow(1, 4242)] });
      const up = new Promise<void>((resolve, reject) => setTimeout(() => proxy.up().then(resolve, reject), 1000));
      await exporter.shutdown(stopWithin());
      await up;
      assert.deepEqual(sink.records.map((r) => r.bytes), [4242]);
    } finally {
      await proxy.down();
      await receiver.shutdown(stopWithin());
    }
  });
});

describe('otlp exporter self-telemetry in a service', () => {
  test('failed exports count in zonetap_exporter_send_failed_total{component_id="otlp"}, the one export-failure metric', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zt-otlp-exporter-'));
    const registry = new FactoryRegistry([otlpReceiverFactory, otlpExporterFactory]);
    const [ingest, closed] = [await freePort(), await freePort()];
    const file = join(dir, 'agent.yaml');
    // The agent receives OTLP on `ingest` and exports to `closed`, where nothing listens.
    await writeFile(
      file,
      `receivers:
  otlp: { protocols: { grpc: { endpoint: 127.0.0.1:${ingest} } } }
exporters:
  otlp:
    endpoint: 127.0.0.1:${closed}
    tls: { insecure: true }
    interval: 50ms
    timeout: 500ms
    retry_on_failure: { initial_interval: 20ms, max_interval: 100ms }
service:
  pipelines: { flows: { receivers: [otlp], exporters: [otlp] } }
  telemetry: { metrics: { endpoint: 127.0.0.1:0 } }
`,
    );
    const service = new Service(await loadConfig([file], registry), registry, { logger: pino({ level: 'silent' }) });
    const feeder = otlpExporterFactory.create(testSettings('otlp/feeder', 'exporter'), otlpExporterConfigSchema.parse({ endpoint: `127.0.0.1:${ingest}`, tls: { insecure: true }, interval: '1h' })) as OtlpExporter;
    try {
      await service.start();
      const metricsText = async () => (await fetch(`http://127.0.0.1:${service.telemetryAddress!.port}/metrics`)).text();
      const value = (text: string, series: string) => {
        const line = text.split('\n').find((l) => l.startsWith(`${series} `));
        return line === undefined ? undefined : Number(line.split(' ')[1]);
      };
      const failed = 'zonetap_exporter_send_failed_total{component_id="otlp"}';
      assert.equal(value(await metricsText(), failed), 0, 'registered at 0 before any export');

      // An empty store sends nothing, so give the agent a flow to export.
      await feeder.start();
      await feeder.consume({ start: 0, end: 0, records: [flow(1, 1234)] });
      assert.equal(await feeder.exportNow(), true, 'the agent accepted the flow');

      let text = '';
      await until(`${failed} to grow`, async () => (value((text = await metricsText()), failed) ?? 0) > 0, { details: () => text });
      assert.equal(value(text, 'zonetap_component_records_in_total{component_id="otlp",kind="exporter"}'), 1, 'the flow reached the exporter');
      assert.equal(value(text, 'zonetap_component_records_dropped_total{component_id="otlp",kind="exporter"}'), 0, 'a failed export drops nothing: the totals are kept');
      assert.doesNotMatch(text, /zonetap_exporter_export_failures/, 'no second failure metric');
      assert.equal(value(text, 'zonetap_exporter_series{component_id="otlp"}'), 1, 'own metrics are labelled component_id');
    } finally {
      await feeder.shutdown(stopWithin());
      await service.shutdown();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('outside a service, each failed export is reported through settings.reportSendFailure()', async () => {
    let reported = 0;
    const settings = { ...testSettings('otlp', 'exporter'), reportSendFailure: (n = 1) => void (reported += n) };
    const exporter = otlpExporterFactory.create(settings, otlpExporterConfigSchema.parse({ endpoint: `127.0.0.1:${await freePort()}`, tls: { insecure: true }, interval: '1h', timeout: '500ms' })) as OtlpExporter;
    await exporter.start();
    try {
      assert.equal(await exporter.exportNow(), true, 'nothing to send is not a failure');
      assert.equal(reported, 0);
      await exporter.consume({ start: 0, end: 0, records: [flow(1, 10)] });
      assert.equal(await exporter.exportNow(), false);
      assert.equal(await exporter.exportNow(), false);
      assert.equal(reported, 2);
    } finally {
      await exporter.shutdown(stopWithin());
    }
  });
});
