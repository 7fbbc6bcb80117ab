/**
 * The agent -> gateway link on loopback: the zonetap OTLP exporter (the
 * official OTLPMetricExporter underneath) against the real gRPC receiver.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { Metadata, credentials, status } from '@grpc/grpc-js';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { otlpExporterFactory, type OtlpExporter } from '../../exporters/otlp/index.ts';
import { Lifecycle, contextWithTimeout } from '../../pipeline/lifecycle.ts';
import { meteredSettings, RecordingConsumer, serviceStartError, testSettings } from '../../test/support/components.ts';
import type { FlowBatch, FlowRecord } from '../../pipeline/flow.ts';
import { otlpReceiverFactory, type OtlpReceiver } from './index.ts';
import { freePort, PausableProxy, portIsFree } from '../../test/support/loopback.ts';
import { encodeRequest, exportThroughSdk, mutualTlsCerts, podPairFlow, rawExport, selfSignedCert, series, totalsByFlow, writeTemp } from '../../test/support/otlp.ts';
import { sleep, until } from '../../test/support/poll.ts';

/** The shutdown deadline tests give components: the service's default. */
const stopWithin = () => contextWithTimeout(10_000);

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function startReceiver(config: Record<string, unknown> = {}, sink = new RecordingConsumer()): Promise<{ receiver: OtlpReceiver; sink: RecordingConsumer }> {
  const grpc = { endpoint: '127.0.0.1:0', ...((config.grpc as object) ?? {}) };
  const { grpc: _, ...rest } = config;
  const receiver = otlpReceiverFactory.create(testSettings('otlp', 'receiver'), otlpReceiverFactory.configSchema.parse({ protocols: { grpc }, ...rest }), sink) as OtlpReceiver;
  await receiver.start();
  cleanups.push(() => receiver.shutdown(stopWithin()));
  return { receiver, sink };
}

async function startExporter(port: number, config: Record<string, unknown> = {}): Promise<OtlpExporter> {
  const exporter = otlpExporterFactory.create(
    testSettings('otlp', 'exporter'),
    // As agents send to gateways (config/agent.yaml): delta, unless a test says otherwise.
    otlpExporterFactory.configSchema.parse({ endpoint: `127.0.0.1:${port}`, tls: { insecure: true }, interval: '1h', temporality: 'delta', ...config }),
  ) as OtlpExporter;
  await exporter.start();
  cleanups.push(() => exporter.shutdown(stopWithin()));
  return exporter;
}


function batch(records: FlowRecord[]): FlowBatch {
  return { start: Date.now() - 1000, end: Date.now(), records };
}

/** What the agent counted, per flow, to compare with what the gateway produced. */
class AgentLedger {
  readonly records: FlowRecord[] = [];
  async feed(exporter: OtlpExporter, records: FlowRecord[]): Promise<void> {
    this.records.push(...records.map((r) => ({ ...r })));
    await exporter.consume(batch(records));
  }
  totals() {
    return totalsByFlow(this.records);
  }
}

/** Waits until the gateway has answered `n` more export requests: the agent exported `n` more times. */

describe('otlp receiver lifecycle', () => {
  test('start fails naming the endpoint when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await serviceStartError(otlpReceiverFactory, 'otlp', otlpReceiverFactory.configSchema.parse({ protocols: { grpc: { endpoint: `127.0.0.1:${port}` } } }));
      assert.match(err.message, new RegExp(`^failed to start "otlp" receiver: cannot serve OTLP on 127.0.0.1:${port}: .*EADDRINUSE`));
    } finally {
      blocker.close();
    }
  });

  test('shutdown() while start() is still binding: the port is free afterwards', async () => {
    const port = await freePort();
    const receiver = new Lifecycle(otlpReceiverFactory.create(testSettings('otlp', 'receiver'), otlpReceiverFactory.configSchema.parse({ protocols: { grpc: { endpoint: `127.0.0.1:${port}` } } }), new RecordingConsumer()));
    const starting = receiver.start();
    await receiver.shutdown(stopWithin());
    await starting;
    assert.equal(await portIsFree(port), true, 'nothing listens on the port after shutdown');
    await assert.rejects(receiver.start(), /start\(\) after shutdown\(\)/);
    assert.equal(await portIsFree(port), true, 'start after shutdown does nothing');
  });
});

describe('otlp exporter -> otlp receiver', () => {
  for (const temporality of ['delta', 'cumulative'] as const) {
  test(`round trip, ${temporality}: exact totals, all attributes, cost, gzip; unchanged totals give no records`, async () => {
    const { receiver, sink } = await startReceiver();
    const exporter = await startExporter(receiver.port, { temporality }); // default compression: gzip
    const ledger = new AgentLedger();
    await ledger.feed(exporter, [podPairFlow(1, 1500, 3, { costUsd: 0.25 }), podPairFlow(2, 80, 1)]);
    await ledger.feed(exporter, [podPairFlow(1, 500, 1, { costUsd: 0.5 })]);
    assert.equal(await exporter.exportNow(), true);
    await ledger.feed(exporter, [podPairFlow(2, 20, 2), podPairFlow(3, 7, 1)]);
    assert.equal(await exporter.exportNow(), true);
    const batchesBefore = sink.batches.length;
    assert.equal(await exporter.exportNow(), true, 'export of unchanged totals');
    assert.equal(sink.batches.length, batchesBefore, 'unchanged totals produce no batch');

    assert.deepEqual(totalsByFlow(sink.records), ledger.totals());
    const first = sink.batches[0]!.records.find((r) => r.src.address === '10.1.0.1')!;
    assert.deepEqual(first, { ...podPairFlow(1, 2000, 4), costUsd: 0.75 }, 'every attribute survives the round trip');
    assert.equal(sink.batches.length, 2, 'one batch per export request');
    assert.equal(receiver.counts.invalidRequests, 0);
  });
  }

  test('several agents at once, with the same flows: each counted once', async () => {
    const { receiver, sink } = await startReceiver();
    const agents = await Promise.all([1, 2, 3].map(() => startExporter(receiver.port)));
    for (let round = 1; round <= 5; round++) {
      await Promise.all(agents.map(async (a, i) => {
        await a.consume(batch([podPairFlow(1, 100 * (i + 1), 1)]));
        assert.ok(await a.exportNow());
      }));
    }
    assert.deepEqual(totalsByFlow(sink.records), new Map([['10.1.0.1:40001->10.2.0.7:5432/tcp', { bytes: 5 * 600, packets: 15 }]]));
    assert.equal(receiver.streamCount, 3, 'one stream set per agent');
  });

  test('the official SDK pipeline as client: flow counters become deltas, other metrics are ignored and counted', async () => {
    const { receiver, sink } = await startReceiver();
    await exportThroughSdk(new OTLPMetricExporter({ url: `http://127.0.0.1:${receiver.port}`, credentials: credentials.createInsecure() }), 'sdk-1');
    assert.deepEqual(totalsByFlow(sink.records), new Map([['10.9.0.1:0->10.9.0.2:443/tcp', { bytes: 1234, packets: 10 }]]));
    assert.equal(receiver.counts.ignoredOther, 6, 'one histogram and one gauge point in each of three exports (two flushes, shutdown)');
  });

  test('gateway unreachable for a while, then back: nothing lost, nothing doubled', async () => {
    const { receiver, sink } = await startReceiver();
    const proxy = new PausableProxy(receiver.port);
    await proxy.up();
    cleanups.push(() => proxy.down());
    const exporter = await startExporter(proxy.port, { interval: '100ms', timeout: '1s', retry_on_failure: { initial_interval: '50ms', max_interval: '200ms' } });
    const ledger = new AgentLedger();
    await ledger.feed(exporter, [podPairFlow(1, 100, 1), podPairFlow(2, 200, 2)]);
    await until('first export', () => sink.records.length >= 2);
    await proxy.down();
    for (let i = 0; i < 10; i++) {
      await ledger.feed(exporter, [podPairFlow(1, 10 + i, 1), podPairFlow(3 + i, 5, 1)]);
      await sleep(60);
    }
    assert.ok(sink.records.length <= 2 + 2, 'the gateway is unreachable');
    await proxy.up();
    const want = ledger.totals();
    await until('totals to arrive after the outage', () => totalsByFlow(sink.records).get('10.1.0.12:40012->10.2.0.7:5432/tcp') !== undefined);
    assert.equal(await exporter.exportNow(), true, 'everything the agent counted is acknowledged: nothing more will come');
    assert.deepEqual(totalsByFlow(sink.records), want);
  });

  test('churning flows: both sides expire idle series and stay bounded, totals conserved', async () => {
    const { receiver, sink } = await startReceiver({ stream_ttl: '1s', agent_ttl: '2s' });
    const exporter = await startExporter(receiver.port, { interval: '100ms', series_ttl: '300ms' });
    const arrived = () => sink.records.reduce((n, r) => n + r.bytes, 0);
    let fed = 0;
    let maxStreams = 0;
    let maxSeries = 0;
    for (let round = 0; round < 60; round++) {
      // Every round, 50 flows of pods that did not exist before (and never come back).
      const records = Array.from({ length: 50 }, (_, i) => podPairFlow(1, 10, 1, { src: { address: `10.8.${round}.${i}`, port: 1000 + i } }));
      fed += 500;
      await exporter.consume(batch(records));
      // The next round starts once this one reached the gateway: rounds follow the exports
      // (at least 100 ms apart), however slow the machine, instead of a clock of their own.
      await until(`round ${round} at the gateway`, () => arrived() >= fed);
      maxStreams = Math.max(maxStreams, receiver.streamCount);
      maxSeries = Math.max(maxSeries, exporter.seriesCount);
    }
    assert.equal(arrived(), fed);
    // 3000 attribute sets went through. With rounds at least one export (100 ms) apart, a
    // delivered series idle for 300 ms is gone by the 4th export after its round: the agent
    // holds about 4 rounds (200 series). The gateway keeps a stream for 1 s after the agent
    // last sent it, swept every second: about 14 rounds (700) plus 10 between sweeps.
    assert.ok(maxSeries <= 500, `exporter held at most ${maxSeries} series`);
    assert.ok(maxStreams <= 1500, `receiver held at most ${maxStreams} streams`);
    // Once the flows stop, both sides forget them all: expiry, not only a bound.
    await until('idle series forgotten by the agent', () => exporter.seriesCount === 0);
    await until('idle streams forgotten at the gateway', () => receiver.streamCount === 0);
  });

  test('gateway restarted (state lost): the new gateway gets what was not acknowledged, and nothing twice', async () => {
    const port = await freePort();
    const first = await startReceiver({ grpc: { endpoint: `127.0.0.1:${port}` } });
    const exporter = await startExporter(port, { interval: '100ms', timeout: '1s', retry_on_failure: { initial_interval: '50ms', max_interval: '200ms' } });
    const ledger = new AgentLedger();
    await ledger.feed(exporter, [podPairFlow(1, 100, 1)]);
    await until('first export', () => first.sink.records.length >= 1);
    await first.receiver.shutdown(stopWithin());
    await ledger.feed(exporter, [podPairFlow(1, 50, 1), podPairFlow(2, 70, 1)]);
    await sleep(400); // the agent tries the stopped gateway, and fails, a few times
    const second = await startReceiver({ grpc: { endpoint: `127.0.0.1:${port}` } });
    await until('export to the restarted gateway', () => totalsByFlow(second.sink.records).size === 2);
    assert.equal(await exporter.exportNow(), true, 'everything the agent counted is acknowledged: nothing more will come');
    assert.deepEqual(totalsByFlow(second.sink.records), new Map([['10.1.0.1:40001->10.2.0.7:5432/tcp', { bytes: 50, packets: 1 }], ['10.1.0.2:40002->10.2.0.7:5432/tcp', { bytes: 70, packets: 1 }]]));
    assert.deepEqual(totalsByFlow([...first.sink.records, ...second.sink.records]), ledger.totals(), 'both gateways together: what the agent counted');
  });

  test('agent restart (new series start time): no negative and no doubled counts', async () => {
    const { receiver, sink } = await startReceiver();
    const a = await startExporter(receiver.port);
    await a.consume(batch([podPairFlow(1, 1000, 10)]));
    assert.ok(await a.exportNow());
    await a.shutdown(stopWithin());
    await sleep(5);
    const b = await startExporter(receiver.port); // a new instance: new service.instance.id and start times
    await b.consume(batch([podPairFlow(1, 300, 3)]));
    assert.ok(await b.exportNow());
    await b.consume(batch([podPairFlow(1, 1, 1)]));
    assert.ok(await b.exportNow());
    assert.ok(sink.records.every((r) => r.bytes >= 0 && r.packets >= 0), 'no negative deltas');
    assert.deepEqual(totalsByFlow(sink.records), new Map([['10.1.0.1:40001->10.2.0.7:5432/tcp', { bytes: 1301, packets: 14 }]]));
  });

  test('duplicate and out-of-order exports are not counted twice; a stale start time is ignored', async () => {
    const { receiver, sink } = await startReceiver();
    const attrs = { 'src.address': '10.3.0.1', 'dst.address': '10.3.0.2', transport: 'udp', 'network.type': 'ipv4' };
    const t0 = Date.now() - 60_000;
    const at = (startMs: number, nowMs: number, bytes: number) => encodeRequest('agent-dup', [series(attrs, startMs, bytes, bytes / 10)], nowMs);
    const r1 = at(t0, t0 + 10_000, 100);
    const r2 = at(t0, t0 + 20_000, 300);
    for (const body of [r1, r2, r2, r1, r2]) assert.equal((await rawExport(receiver.port, body)).code, status.OK);
    assert.deepEqual([...totalsByFlow(sink.records).values()], [{ bytes: 300, packets: 30 }]);
    // Restart at t0+25s (new start), then a late point from the old series: ignored.
    assert.equal((await rawExport(receiver.port, at(t0 + 25_000, t0 + 30_000, 40))).code, status.OK);
    assert.equal((await rawExport(receiver.port, at(t0, t0 + 29_000, 500))).code, status.OK);
    assert.deepEqual([...totalsByFlow(sink.records).values()], [{ bytes: 340, packets: 34 }]);
    assert.equal(receiver.counts.ignoredStale, 2 * 3 + 2, 'r2, r1, r2 replays and the stale start, bytes and packets each');
  });

  test('malformed requests get INVALID_ARGUMENT and change nothing; good agents keep flowing', async () => {
    const { receiver, sink } = await startReceiver();
    const attrs = { 'src.address': '10.4.0.1', 'dst.address': '10.4.0.2', transport: 'tcp', 'network.type': 'ipv4' };
    const t0 = Date.now() - 60_000;
    assert.equal((await rawExport(receiver.port, encodeRequest('good', [series(attrs, t0, 100, 1)], t0 + 1000))).code, status.OK);
    const streams = receiver.streamCount;

    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]); // field 1, length far past the end
    const bad = await rawExport(receiver.port, garbage);
    assert.equal(bad.code, status.INVALID_ARGUMENT);
    assert.match(bad.details, /malformed ExportMetricsServiceRequest/);

    // A valid request whose second point has a broken attribute list: the first point must not be applied either.
    const good = encodeRequest('good', [series(attrs, t0, 150, 2)], t0 + 2000);
    const broken = encodeRequest('good', [series(attrs, t0, 999, 9), series({ 'src.address': 'AAAAAAAA', 'dst.address': '10.4.0.9' }, t0, 5, 5)], t0 + 2000);
    const at = Buffer.from(broken).lastIndexOf(Buffer.from('AAAAAAAA'));
    const corrupt = Buffer.from(broken);
    corrupt[at - 1] = 0xff; // the string's length prefix now runs past its KeyValue
    assert.equal((await rawExport(receiver.port, corrupt)).code, status.INVALID_ARGUMENT);

    assert.equal(receiver.streamCount, streams, 'no stream created or changed');
    assert.equal(receiver.counts.invalidRequests, 2);
    assert.equal((await rawExport(receiver.port, good)).code, status.OK);
    assert.deepEqual([...totalsByFlow(sink.records).values()], [{ bytes: 150, packets: 2 }], 'delta taken against the last good point');
  });

  test('self-telemetry: requests, points and streams by outcome, every series labelled component_id', async () => {
    const { settings, collect } = meteredSettings('otlp/gateway', 'receiver');
    const config = otlpReceiverFactory.configSchema.parse({ protocols: { grpc: { endpoint: '127.0.0.1:0' } } });
    const receiver = otlpReceiverFactory.create(settings, config, new RecordingConsumer()) as OtlpReceiver;
    await receiver.start();
    cleanups.push(() => receiver.shutdown(stopWithin()));
    const attrs = { 'src.address': '10.5.0.1', 'dst.address': '10.5.0.2', transport: 'tcp', 'network.type': 'ipv4' };
    const t0 = Date.now() - 60_000;
    assert.equal((await rawExport(receiver.port, encodeRequest('a', [series(attrs, t0, 100, 1)], t0 + 1000))).code, status.OK);
    assert.equal((await rawExport(receiver.port, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]))).code, status.INVALID_ARGUMENT);

    const metrics = await collect();
    const points = (name: string) =>
      (metrics.find((m) => m.descriptor.name === name)?.dataPoints.map((p) => [p.attributes, p.value]) ?? []).toSorted((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)));
    assert.deepEqual(points('zonetap.receiver.otlp.requests'), [
      [{ component_id: 'otlp/gateway', outcome: 'invalid_argument', transport: 'grpc' }, 1],
      [{ component_id: 'otlp/gateway', outcome: 'ok', transport: 'grpc' }, 1],
    ]);
    assert.deepEqual(points('zonetap.receiver.otlp.points'), [[{ component_id: 'otlp/gateway', outcome: 'accepted' }, 2]], 'bytes and packets');
    assert.deepEqual(points('zonetap.receiver.otlp.streams'), [[{ component_id: 'otlp/gateway' }, 1]]);
  });

  test('bearer token: missing or wrong gets UNAUTHENTICATED while a good agent keeps flowing', async () => {
    const tokenFile = writeTemp('token', 's3cret-token\n');
    const { receiver, sink } = await startReceiver({ grpc: { auth: { bearer_token_file: tokenFile } } });
    const good = await startExporter(receiver.port, { headers: { authorization: 'Bearer s3cret-token' } });
    const anonymous = await startExporter(receiver.port);
    const wrong = await startExporter(receiver.port, { headers: { Authorization: 'Bearer nope' } });
    await good.consume(batch([podPairFlow(1, 10, 1)]));
    await anonymous.consume(batch([podPairFlow(2, 20, 1)]));
    await wrong.consume(batch([podPairFlow(3, 30, 1)]));
    assert.equal(await anonymous.exportNow(), false);
    assert.equal(await good.exportNow(), true);
    assert.equal(await wrong.exportNow(), false);
    await good.consume(batch([podPairFlow(1, 5, 1)]));
    assert.equal(await good.exportNow(), true);
    const meta = new Metadata();
    meta.set('authorization', 'Bearer s3cret-token-but-longer');
    assert.equal((await rawExport(receiver.port, Buffer.alloc(0), { metadata: meta })).code, status.UNAUTHENTICATED);
    assert.equal(receiver.counts.unauthenticated, 3);
    assert.deepEqual(totalsByFlow(sink.records), new Map([['10.1.0.1:40001->10.2.0.7:5432/tcp', { bytes: 15, packets: 2 }]]));
  });

  test('TLS with a self-signed certificate: a trusting agent gets through, a plain-text one does not', async () => {
    const tls = selfSignedCert();
    cleanups.push(() => rmSync(tls.dir, { recursive: true, force: true }));
    const { receiver, sink } = await startReceiver({ grpc: { tls: { cert_file: tls.cert, key_file: tls.key } } });
    const secure = await startExporter(receiver.port, { tls: { ca_file: tls.cert } });
    const plain = await startExporter(receiver.port, { tls: { insecure: true }, timeout: '2s' });
    await secure.consume(batch([podPairFlow(1, 42, 1)]));
    await plain.consume(batch([podPairFlow(2, 43, 1)]));
    assert.equal(await secure.exportNow(), true);
    assert.equal(await plain.exportNow(), false);
    assert.deepEqual(totalsByFlow(sink.records), new Map([['10.1.0.1:40001->10.2.0.7:5432/tcp', { bytes: 42, packets: 1 }]]));
  });

  test('mutual TLS: an agent with a certificate from client_ca_file gets through, one without does not', async () => {
    const pki = mutualTlsCerts();
    cleanups.push(() => rmSync(pki.dir, { recursive: true, force: true }));
    const { receiver, sink } = await startReceiver({ grpc: { tls: { cert_file: pki.serverCert, key_file: pki.serverKey, client_ca_file: pki.ca } } });
    const withCert = await startExporter(receiver.port, { tls: { ca_file: pki.ca, cert_file: pki.clientCert, key_file: pki.clientKey } });
    const withoutCert = await startExporter(receiver.port, { tls: { ca_file: pki.ca }, timeout: '2s' });
    await withCert.consume(batch([podPairFlow(1, 11, 1)]));
    await withoutCert.consume(batch([podPairFlow(2, 12, 1)]));
    assert.equal(await withCert.exportNow(), true);
    assert.equal(await withoutCert.exportNow(), false);
    assert.deepEqual(totalsByFlow(sink.records), new Map([['10.1.0.1:40001->10.2.0.7:5432/tcp', { bytes: 11, packets: 1 }]]));
  });

  test('oversized requests are refused with RESOURCE_EXHAUSTED, gzip-compressed or not; smaller ones pass', async () => {
    const { receiver, sink } = await startReceiver({ grpc: { max_recv_msg_size_mib: 0.05 } }); // 51,200 bytes
    const t0 = Date.now() - 60_000;
    const many = Array.from({ length: 400 }, (_, i) => series({ 'src.address': `10.5.${i >> 8}.${i & 255}`, 'dst.address': '10.5.9.9', transport: 'tcp', 'network.type': 'ipv4' }, t0, 10, 1));
    const big = encodeRequest('big', many, t0 + 1000);
    assert.ok(big.length > 51_200, `request is ${big.length} bytes`);
    const refused = await rawExport(receiver.port, big);
    assert.equal(refused.code, status.RESOURCE_EXHAUSTED);
    const zipped = await rawExport(receiver.port, big, { gzip: true }); // small on the wire, too big once inflated
    assert.equal(zipped.code, status.RESOURCE_EXHAUSTED);
    assert.equal(receiver.streamCount, 0);
    assert.equal((await rawExport(receiver.port, encodeRequest('big', many.slice(0, 10), t0 + 1000), { gzip: true })).code, status.OK);
    assert.equal(sink.records.length, 10);
  });
});
