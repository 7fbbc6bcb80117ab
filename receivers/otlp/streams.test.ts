import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { decodeRequest, FlowStreams, otlpReceiverConfigSchema, otlpReceiverFactory } from './index.ts';
import { encodeRequest, series } from '../../test/support/otlp.ts';

const attrs = (i: number) => ({ 'src.address': `10.7.0.${i}`, 'dst.address': '10.7.1.1', transport: 'tcp', 'network.type': 'ipv4' });
const T0 = 1_700_000_000_000;

function ingest(streams: FlowStreams, body: Uint8Array) {
  return streams.ingest(decodeRequest(body));
}

describe('cumulative -> delta streams', () => {
  test('streams its agent stopped sending expire after the TTL; a silent agent only after agent_ttl', () => {
    let now = T0;
    const streams = new FlowStreams({ ttlMs: 60_000, agentTtlMs: 3600_000, maxStreams: 100, now: () => now });
    ingest(streams, encodeRequest('a', [series(attrs(1), T0, 100, 1), series(attrs(2), T0, 50, 1)], T0 + 1000));
    now += 30_000;
    ingest(streams, encodeRequest('a', [series(attrs(1), T0, 150, 2)], T0 + 31_000));
    now += 40_000;
    ingest(streams, encodeRequest('a', [series(attrs(1), T0, 160, 3)], T0 + 71_000));
    assert.equal(streams.expire(), 1, 'attrs(2) not sent by its agent for 70s');
    assert.equal(streams.size, 1);
    now += 30 * 60_000;
    assert.equal(streams.expire(), 0, 'the agent went silent: its last streams are kept');
    assert.equal(streams.agents, 1);
    now += 31 * 60_000;
    assert.equal(streams.expire(), 1, 'silent for over agent_ttl');
    assert.equal(streams.size, 0);
    assert.equal(streams.agents, 0);
  });

  test('network partition longer than stream_ttl: the reconnecting agent is not counted twice', () => {
    let now = T0;
    const streams = new FlowStreams({ ttlMs: 15 * 60_000, maxStreams: 100, now: () => now });
    const bytes = (body: Uint8Array) => ingest(streams, body).batch.records.reduce((n, r) => n + r.bytes, 0);
    let total = bytes(encodeRequest('agent', [series(attrs(1), T0, 1_000_000, 10)], T0 + 10_000));
    // 20 minutes without a request from the agent while the gateway keeps sweeping.
    for (let i = 0; i < 20; i++) {
      now += 60_000;
      streams.expire();
    }
    assert.equal(streams.size, 1, 'the partitioned agent keeps its streams');
    total += bytes(encodeRequest('agent', [series(attrs(1), T0, 1_000_100, 11)], now));
    assert.equal(total, 1_000_100, 'exactly what the agent counted');
  });

  test('a gateway without state (restart, or agent forgotten after agent_ttl) counts the first points in full', () => {
    let now = T0;
    const streams = new FlowStreams({ ttlMs: 60_000, agentTtlMs: 120_000, maxStreams: 100, now: () => now });
    ingest(streams, encodeRequest('a', [series(attrs(1), T0, 500, 5)], T0 + 1000));
    now += 121_000;
    assert.equal(streams.expire(), 1);
    const again = ingest(streams, encodeRequest('a', [series(attrs(1), T0, 600, 6)], now));
    assert.deepEqual(again.batch.records.map((r) => [r.bytes, r.packets]), [[600, 6]]);
  });

  test('max_streams: new attribute sets beyond the limit are refused and counted, known ones keep working', () => {
    const streams = new FlowStreams({ ttlMs: 60_000, maxStreams: 2 });
    const first = ingest(streams, encodeRequest('a', [series(attrs(1), T0, 10, 1), series(attrs(2), T0, 10, 1), series(attrs(3), T0, 10, 1)], T0 + 1000));
    assert.equal(first.stats.refused, 2, 'bytes and packets of attrs(3)');
    assert.equal(first.batch.records.length, 2);
    const second = ingest(streams, encodeRequest('a', [series(attrs(1), T0, 15, 2)], T0 + 2000));
    assert.deepEqual(second.batch.records.map((r) => [r.bytes, r.packets]), [[5, 1]]);
  });

  test('two agents with the same attribute set are separate streams', () => {
    const streams = new FlowStreams({ ttlMs: 60_000, maxStreams: 100 });
    ingest(streams, encodeRequest('a', [series(attrs(1), T0, 100, 1)], T0 + 1000));
    const b = ingest(streams, encodeRequest('b', [series(attrs(1), T0, 40, 1)], T0 + 1000));
    assert.deepEqual(b.batch.records.map((r) => r.bytes), [40]);
    const a = ingest(streams, encodeRequest('a', [series(attrs(1), T0, 130, 1)], T0 + 2000));
    assert.deepEqual(a.batch.records.map((r) => r.bytes), [30]);
    assert.equal(streams.agents, 2);
  });

  test('a lower value without a new start time is a reset: the value is the delta', () => {
    const streams = new FlowStreams({ ttlMs: 60_000, maxStreams: 100 });
    ingest(streams, encodeRequest('a', [series(attrs(1), T0, 100, 10)], T0 + 1000));
    const r = ingest(streams, encodeRequest('a', [series(attrs(1), T0, 30, 3)], T0 + 2000));
    assert.deepEqual(r.batch.records.map((x) => [x.bytes, x.packets]), [[30, 3]]);
    assert.equal(r.stats.resets, 2);
  });
});

describe('delta windows: each byte applied once', () => {
  // What an agent sends: per series, what it counted since its last acknowledged export (start).
  const window = (streams: FlowStreams, startMs: number, timeMs: number, bytes: number, agent = 'a') =>
    ingest(streams, encodeRequest(agent, [series(attrs(1), startMs, bytes, bytes / 10)], timeMs, 'delta'));
  const bytes = (r: ReturnType<typeof window>) => r.batch.records.reduce((n, x) => n + x.bytes, 0);

  test('a re-sent window (its acknowledgement was lost) adds only what it grew by; an exact re-send adds nothing', () => {
    const streams = new FlowStreams({ ttlMs: 60_000, maxStreams: 100 });
    assert.equal(bytes(window(streams, T0, T0 + 1000, 100)), 100);
    const again = window(streams, T0, T0 + 1000, 100);
    assert.equal(bytes(again), 0, 'the same request twice (a transport retry)');
    assert.equal(again.stats.ignoredStale, 2, 'bytes and packets');
    assert.equal(bytes(window(streams, T0, T0 + 2000, 150)), 50, 'the window re-sent with 50 more');
    assert.equal(bytes(window(streams, T0 + 2000, T0 + 3000, 30)), 30, 'acknowledged: the next window starts at the export that was');
  });

  test('late requests (an older time in the window, or an older window) are stale', () => {
    const streams = new FlowStreams({ ttlMs: 60_000, maxStreams: 100 });
    window(streams, T0, T0 + 2000, 150);
    const late = window(streams, T0, T0 + 1000, 100);
    assert.equal(bytes(late), 0);
    window(streams, T0 + 2000, T0 + 3000, 30);
    assert.equal(bytes(window(streams, T0, T0 + 2500, 170)), 0, 'a window already closed');
    assert.equal(bytes(window(streams, T0 + 2000, T0 + 2800, 20)), 0, 'earlier in the open window');
  });

  test('a gateway without state (restarted, or the agent failed over to it) applies the open window only, not the agent\'s history', () => {
    const first = new FlowStreams({ ttlMs: 60_000, maxStreams: 100 });
    for (let k = 0; k < 10; k++) window(first, T0 + k * 1000, T0 + (k + 1) * 1000, 1000);
    const other = new FlowStreams({ ttlMs: 60_000, maxStreams: 100 });
    assert.equal(bytes(window(other, T0 + 10_000, T0 + 11_000, 1000)), 1000);
    assert.equal(bytes(window(first, T0 + 11_000, T0 + 12_000, 500)), 500, 'back to the first gateway: a later window, applied whole');
  });

  test('an agent sending cumulative totals is reported once (the receiver logs what to change)', () => {
    const streams = new FlowStreams({ ttlMs: 60_000, maxStreams: 100 });
    assert.deepEqual(ingest(streams, encodeRequest('old', [series(attrs(1), T0, 10, 1)], T0 + 1000)).cumulativeAgents, ['id:old']);
    assert.deepEqual(ingest(streams, encodeRequest('old', [series(attrs(1), T0, 20, 1)], T0 + 2000)).cumulativeAgents, []);
    assert.deepEqual(window(streams, T0, T0 + 1000, 10).cumulativeAgents, [], 'delta agents are not reported');
  });

  test('plain delta senders (no start time) are applied point by point', () => {
    const streams = new FlowStreams({ ttlMs: 60_000, maxStreams: 100 });
    assert.equal(bytes(window(streams, 0, T0 + 1000, 10)), 10);
    assert.equal(bytes(window(streams, 0, T0 + 2000, 10)), 10);
    assert.equal(bytes(window(streams, 0, T0 + 2000, 10)), 0, 'the same point again');
  });
});

describe('otlp receiver config', () => {
  const testdata = (name: string) => parse(readFileSync(new URL(`testdata/${name}`, import.meta.url), 'utf8'));
  test('defaults and a gateway config', () => {
    assert.deepEqual(otlpReceiverFactory.configSchema.parse({}), {
      protocols: {
        grpc: {
          endpoint: '127.0.0.1:4317',
          max_recv_msg_size_mib: 4,
          max_connections: 4096,
          max_concurrent_streams: 16,
          keepalive: { server_parameters: { max_connection_idle: 120_000, max_connection_age: 1_800_000, max_connection_age_grace: 30_000 } },
        },
      },
      stream_ttl: 900_000,
      agent_ttl: 86_400_000,
      max_streams: 1_000_000,
      max_streams_memory_mib: 256,
      attribute_limits: { attribute_value_length_limit: 256, attribute_count_limit: 64 },
      max_clock_skew: 600_000,
    });
    const c = otlpReceiverConfigSchema.parse(testdata('gateway.yaml'));
    assert.equal(c.protocols.grpc!.max_recv_msg_size_mib, 8);
    assert.equal(c.stream_ttl, 1_800_000);
  });
  test('broken configs say what is wrong and where', () => {
    const issues = (name: string) => otlpReceiverConfigSchema.safeParse(testdata(name)).error?.issues.map((i) => `${i.path.join('::')}: ${i.message}`);
    assert.deepEqual(issues('bad-unknown-key.yaml'), ['protocols::grpc: Unrecognized key: "max_recv_msg_size"']);
    assert.deepEqual(issues('bad-tls.yaml'), ['protocols::grpc::tls::cert_file: file "/nonexistent/zonetap-cert.pem" does not exist', 'protocols::grpc::tls::key_file: expected a file path']);
  });
});
