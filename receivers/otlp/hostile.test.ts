/**
 * Hostile or broken senders against the real receiver on loopback: values
 * that would poison counters for good, attributes that would grow the
 * gateway's memory and /metrics without bound, and connections held open
 * without a request. Each refusal is counted and a good agent keeps being
 * served, its streams exact.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as connectHttp2 } from 'node:http2';
import { connect as connectTcp, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { status } from '@grpc/grpc-js';
import { contextWithTimeout } from '../../pipeline/lifecycle.ts';
import { meteredSettings, RecordingConsumer } from '../../test/support/components.ts';
import { encodeWireRequest, ns, type WirePoint, type WireRequest } from '../../test/support/otlp-wire.ts';
import { ENTRY_OVERHEAD_BYTES } from './entries.ts';
import { decodeExportResponse, decodeRequest, FlowStreams, otlpReceiverFactory, type OtlpReceiver } from './index.ts';
import { rawExport } from '../../test/support/otlp.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function startReceiver(config: Record<string, unknown> = {}) {
  const sink = new RecordingConsumer();
  const { settings, collect } = meteredSettings('otlp', 'receiver');
  const { grpc, ...rest } = config;
  const parsed = otlpReceiverFactory.configSchema.parse({ ...rest, protocols: { grpc: { endpoint: '127.0.0.1:0', ...((grpc as object) ?? {}) } } });
  const receiver = otlpReceiverFactory.create(settings, parsed, sink) as OtlpReceiver;
  await receiver.start();
  cleanups.push(() => receiver.shutdown(contextWithTimeout(10_000)));
  const points = async () => {
    const metric = (await collect()).find((m) => m.descriptor.name === 'zonetap.receiver.otlp.points');
    return Object.fromEntries(metric?.dataPoints.map((p) => [String(p.attributes.outcome), p.value as number]) ?? []);
  };
  return { receiver, sink, points, collect };
}

const ATTRS = [['src.address', '10.0.0.1'], ['dst.address', '10.0.0.2'], ['transport', 'tcp']] as const;
const NOW = Date.now();
const at = (offsetMs: number, value: number, extra: Partial<WirePoint> = {}): WirePoint => ({ attributes: ATTRS, startNs: ns(NOW - 60_000), timeNs: ns(NOW + offsetMs), value, ...extra });
const send = (port: number, r: Partial<WireRequest> & { points: WirePoint[] }) => rawExport(port, encodeWireRequest({ instanceId: 'agent-1', ...r }));
const bytesOf = (sink: RecordingConsumer) => sink.records.reduce((n, r) => n + r.bytes, 0);

describe('values that would poison counters', () => {
  test('+Inf, NaN, negative values, 1e308 twice, a time of 2^64-1 and a start after the time are invalid and counted; the stream stays usable and every sum finite', async () => {
    const { receiver, sink, points } = await startReceiver();
    // Cumulative totals of one stream, each request a later time.
    const cumulative = (offsetMs: number, value: number, extra: Partial<WirePoint> = {}) => send(receiver.port, { temporality: 2, points: [at(offsetMs, value, extra)] });
    assert.equal((await cumulative(-50_000, 1000)).code, status.OK);
    for (const [what, bad] of [
      ['+Inf', () => cumulative(-49_000, Infinity)],
      ['NaN', () => cumulative(-48_000, NaN)],
      ['a negative int', () => cumulative(-47_000, -5, { int: true })],
      ['1e308', () => cumulative(-46_000, 1e308)],
      ['1e308 again', () => cumulative(-45_000, 1e308)],
      ['a time of 2^64-1', () => cumulative(0, 2000, { timeNs: 2n ** 64n - 1n })],
      ['a time an hour ahead', () => cumulative(3_600_000, 2000)],
      ['a start after its time', () => cumulative(-44_000, 2000, { startNs: ns(NOW) })],
    ] as const) {
      const result = await bad();
      assert.equal(result.code, status.OK, what);
      const response = decodeExportResponse(result.response!);
      assert.equal(response.rejected, 1, `${what}: reported as a rejected point`);
      assert.match(response.message, /1 invalid/, what);
    }
    assert.equal((await cumulative(-40_000, 1500)).code, status.OK);
    assert.deepEqual(sink.records.map((r) => r.bytes), [1000, 500], 'the stream went on from its last good point');
    assert.deepEqual(await points(), { accepted: 2, invalid: 8 });
    // Delta windows: a window of 1e308 twice would overflow any sum.
    const delta = (startMs: number, value: number) => send(receiver.port, { instanceId: 'agent-2', temporality: 1, points: [at(0, value, { startNs: ns(NOW + startMs), timeNs: ns(NOW + startMs + 1000) })] });
    await delta(-30_000, 1e308);
    await delta(-20_000, 1e308);
    await delta(-10_000, 42);
    assert.ok(sink.records.every((r) => Number.isFinite(r.bytes)));
    assert.equal(bytesOf(sink), 1542);
    assert.equal(receiver.counts.invalid, 10);
  });
});

describe('attribute limits', () => {
  test('a point with a value over attribute_value_length_limit or more than attribute_count_limit attributes is refused and counted; one at the limits passes', async () => {
    const { receiver, sink, points } = await startReceiver({ attribute_limits: { attribute_value_length_limit: 64, attribute_count_limit: 8 } });
    const point = (attributes: WirePoint['attributes']) => ({ attributes, timeNs: ns(NOW), value: 10 });
    const many = (n: number) => Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`] as const);
    const results = [
      await send(receiver.port, { points: [point([['k8s.src.name', 'x'.repeat(64)]])] }),
      await send(receiver.port, { points: [point([['k8s.src.name', 'x'.repeat(65)]])] }),
      await send(receiver.port, { points: [point([['k'.repeat(65), 'x']])] }),
      await send(receiver.port, { points: [point(many(8))] }),
      await send(receiver.port, { points: [point(many(9))] }),
      await send(receiver.port, { points: [point([['k8s.src.name', { nested: 40, inner: 'x' }]])] }),
      await send(receiver.port, { instanceId: 'big-resource', resource: [['host.name', 'h'.repeat(3_000_000)]], points: [point(many(2))] }),
    ];
    assert.deepEqual(results.map((r) => [r.code, r.details, r.response ? decodeExportResponse(r.response).rejected : 0]), [[0, '', 0], [0, '', 1], [0, '', 1], [0, '', 0], [0, '', 1], [0, '', 1], [0, '', 1]]);
    assert.match(decodeExportResponse(results[1]!.response!).message, /attribute_value_length_limit or attribute_count_limit/);
    assert.deepEqual(await points(), { accepted: 2, over_limits: 5 });
    assert.equal(receiver.streamCount, 2);
    assert.ok(sink.records.every((r) => (r.src.pod ?? '').length <= 64));
  });

  test('the streams\' memory stays within max_streams_memory_mib however large the attributes a hostile sender uses', async () => {
    const limits = { valueLength: 256, count: 32 };
    const maxBytes = 16 * 1024 * 1024;
    /** What the runtime may allocate meanwhile for itself (compiled code, the test runner): not the streams'. */
    const slack = 2 * 1024 * 1024;
    const streams = new FlowStreams({ ttlMs: 3_600_000, maxStreams: 1_000_000, maxBytes, limits });
    const big = (i: number) =>
      encodeWireRequest({
        instanceId: `hostile-${i % 7}`,
        resource: Array.from({ length: 31 }, (_, k) => [`r${k}`, 'r'.repeat(256)] as const),
        points: Array.from({ length: 20 }, (_, j) => ({
          attributes: [['k8s.src.name', `${i}-${j}-`.padEnd(256, 'é')], ...Array.from({ length: 31 }, (_, k) => [`k${k}`.padEnd(256, 'k'), 'v'.repeat(256)] as const)],
          timeNs: ns(NOW),
          value: 1,
        })),
      });
    // Keys are Buffers: their bytes are outside the V8 heap, in arrayBuffers, which V8 gives back a
    // few turns of the event loop after the collection that freed them.
    const used = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = await used();
    let refused = 0;
    for (let i = 0; i < 500; i++) refused += streams.ingest(decodeRequest(big(i))).stats.refused;
    const grown = (await used()) - before;
    assert.ok(refused > 0, 'the hostile sender hit the limit');
    assert.ok(streams.bytes <= maxBytes, `${streams.bytes} bytes counted, limit ${maxBytes}`);
    assert.ok(grown <= maxBytes + slack, `the heap grew by ${grown} bytes, more than the ${maxBytes} the streams may hold (and ${slack} of slack): ENTRY_OVERHEAD_BYTES (${ENTRY_OVERHEAD_BYTES}) is too small`);
    // Known streams keep working at the limit; new ones are refused, counted.
    assert.equal(streams.ingest(decodeRequest(big(0))).stats.refused, 0);
  });

  test('bytes per stream as the README states them: about 2.5 KiB counted for an agent\'s pod pair', () => {
    const streams = new FlowStreams({ ttlMs: 3_600_000, maxStreams: 1_000_000 });
    const attributes = [
      ['src.address', '10.1.2.3'], ['k8s.src.namespace', 'shop'], ['k8s.src.name', 'api-7d9f8b6c5-x2k4q'], ['k8s.src.owner.name', 'api'], ['k8s.src.owner.type', 'Deployment'],
      ['k8s.src.node.name', 'node-17'], ['src.zone', 'europe-west1-b'], ['src.region', 'europe-west1'], ['dst.address', '10.2.3.4'], ['k8s.dst.namespace', 'db'],
      ['k8s.dst.name', 'pg-0'], ['k8s.dst.owner.name', 'pg'], ['k8s.dst.owner.type', 'StatefulSet'], ['k8s.dst.node.name', 'node-3'], ['dst.zone', 'europe-west1-c'],
      ['dst.region', 'europe-west1'], ['transport', 'tcp'], ['network.type', 'ipv4'], ['zonetap.traffic.class', 'cross_zone'],
    ] as const;
    for (let i = 0; i < 100; i++) {
      streams.ingest(decodeRequest(encodeWireRequest({ instanceId: 'agent', points: Array.from({ length: 100 }, (_, j) => ({ attributes: [...attributes, ['dst.port', { int: i * 100 + j }]], timeNs: ns(NOW), value: 1 })) })));
    }
    const perStream = streams.bytes / streams.size;
    assert.ok(perStream > 2000 && perStream < 3000, `${perStream.toFixed(0)} bytes per stream`);
  });
});

describe('connections', () => {
  const closed = (socket: Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

  test('connections that never send a request, raw or HTTP/2, are closed after max_connection_idle; a good agent is served meanwhile', async () => {
    const { receiver, sink } = await startReceiver({ grpc: { keepalive: { server_parameters: { max_connection_idle: '500ms' } } } });
    const raw = await Promise.all(Array.from({ length: 100 }, () => new Promise<Socket>((resolve) => { const s = connectTcp(receiver.port, '127.0.0.1', () => resolve(s)); s.on('error', () => {}); })));
    const sessions = Array.from({ length: 100 }, () => connectHttp2(`http://127.0.0.1:${receiver.port}`).on('error', () => {}));
    await Promise.all(sessions.map((s) => new Promise((resolve) => s.once('connect', resolve))));
    const opened = Date.now() + 30_000;
    while (receiver.connections < 200 && Date.now() < opened) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await send(receiver.port, { points: [at(0, 7)] })).code, status.OK);
    await Promise.all([...raw.map(closed), ...sessions.map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve()))))]);
    assert.equal(bytesOf(sink), 7);
    const deadline = Date.now() + 30_000;
    while (receiver.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(receiver.connections, 0);
  });

  test('past max_connections, further connections are closed at once and counted', async () => {
    const { receiver, collect } = await startReceiver({ grpc: { max_connections: 20 } });
    const sockets = await Promise.all(Array.from({ length: 50 }, () => new Promise<Socket>((resolve) => { const s = connectTcp(receiver.port, '127.0.0.1', () => resolve(s)); s.on('error', () => {}); })));
    const deadline = Date.now() + 30_000;
    let refused = 0;
    while (refused < 30 && Date.now() < deadline) {
      refused = ((await collect()).find((m) => m.descriptor.name === 'zonetap.receiver.otlp.connections.refused')?.dataPoints[0]?.value as number | undefined) ?? 0;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(refused, 30);
    assert.equal(receiver.connections, 20);
    await Promise.all(sockets.map((s) => (s.destroy(), closed(s))));
  });

  test('a connection older than max_connection_age is asked to go (GOAWAY)', async () => {
    const { receiver } = await startReceiver({ grpc: { keepalive: { server_parameters: { max_connection_age: '300ms', max_connection_age_grace: '200ms' } } } });
    const session = connectHttp2(`http://127.0.0.1:${receiver.port}`).on('error', () => {});
    await new Promise((resolve) => session.once('goaway', resolve));
    session.destroy();
  });
});
