/**
 * Fuzzing the gateway's OTLP endpoint: a real `zonetap run` gateway (otlp
 * receiver -> prometheus and flowlog exporters) gets requests mutated from
 * real encoded ones: random bytes, truncations, bit flips, huge varints,
 * splices, repeated ranges, deep nesting, extreme values, gzip (and a gzip
 * bomb). Every answer must be a clear gRPC status (OK, INVALID_ARGUMENT or
 * RESOURCE_EXHAUSTED, with details when not OK) within a deadline; the
 * process must stay up, under a memory bound, with finite counters, and
 * still serve a good agent exactly afterwards.
 *
 * Bounded in count and time (ZT_FUZZ_COUNT, default 1500; 45 s at most), and
 * reproducible: the seed is printed (ZT_FUZZ_SEED reruns one).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { ZonetapProcess } from '../../sim/zonetap-process.ts';
import { freePort } from '../../test/support/loopback.ts';
import { until } from '../../test/support/poll.ts';
import { scrapeMetrics, type Sample } from '../../test/support/prometheus.ts';
import { encodeWireRequest, ns, type WireValue } from '../../test/support/otlp-wire.ts';
import { encodeRequest, rawExport, series } from '../../test/support/otlp.ts';

const COUNT = Number(process.env.ZT_FUZZ_COUNT ?? 1500);
const TIME_BUDGET_MS = 45_000;
const SEED = Number(process.env.ZT_FUZZ_SEED ?? 20_261_130);
/** What the gateway may hold at most: its heap, the streams' 32 MiB and gRPC's buffers for a few 4 MiB requests. */
const MAX_RSS_MB = 400;
const ANSWERS = new Set([status.OK, status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED]);

const dir = mkdtempSync(join(tmpdir(), 'zt-otlp-fuzz-'));
let gateway: ZonetapProcess | undefined;
after(async () => {
  await gateway?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** mulberry32: a small seeded generator, so that a failing run can be replayed. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}

const NOW = Date.now();
const attrs = (i: number) => ({ 'src.address': `10.9.${i}.1`, 'k8s.src.namespace': 'fuzz', 'k8s.src.name': `pod-${i}`, 'dst.address': '10.9.0.2', 'dst.port': 443, transport: 'tcp', 'network.type': 'ipv4' });
const SEEDS: Uint8Array[] = [
  encodeRequest('fuzz-cumulative', [series(attrs(1), NOW - 60_000, 1000, 10), { ...series(attrs(2), NOW - 60_000, 5, 1), costUsd: 0.25 }], NOW),
  encodeRequest('fuzz-delta', [series(attrs(3), NOW - 10_000, 300, 3), series(attrs(4), NOW - 10_000, 7, 1)], NOW, 'delta'),
  encodeWireRequest({ instanceId: 'fuzz-wire', resource: [['host.name', 'node-1']], temporality: 1, points: [{ attributes: [['k8s.src.name', { nested: 3, inner: 'x' }], ['dst.port', { int: 80 }]], startNs: ns(NOW - 1000), timeNs: ns(NOW), value: 12.5 }] }),
];

type Rng = ReturnType<typeof generator>;
const EXTREMES = [Infinity, -Infinity, NaN, 1e308, -1, -0, Number.MAX_VALUE, 2 ** 63, 5e-324, 0];
const TIMES = [0n, 2n ** 64n - 1n, 2n ** 63n, 1n, ns(NOW), ns(NOW + 3_600_000)];

/** A mutation of a seed; its name says what was done. */
const MUTATIONS: [string, (rng: Rng) => Uint8Array][] = [
  ['random bytes', (rng) => Uint8Array.from({ length: rng.int(2048) }, () => rng.int(256))],
  ['truncation', (rng) => { const s = rng.pick(SEEDS); return s.subarray(0, rng.int(s.length)); }],
  ['bit flips', (rng) => { const s = Uint8Array.from(rng.pick(SEEDS)); for (let k = 1 + rng.int(8); k > 0; k--) s[rng.int(s.length)]! ^= 1 << rng.int(8); return s; }],
  ['huge varint', (rng) => { const s = Uint8Array.from(rng.pick(SEEDS)); const at = rng.int(s.length); for (let k = 0; k < 1 + rng.int(10) && at + k < s.length; k++) s[at + k] = 0xff; return s; }],
  ['splice', (rng) => { const [a, b] = [rng.pick(SEEDS), rng.pick(SEEDS)]; return Buffer.concat([a.subarray(0, rng.int(a.length)), b.subarray(rng.int(b.length))]); }],
  ['repeated range', (rng) => { const s = rng.pick(SEEDS); const from = rng.int(s.length); const part = s.subarray(from, from + 1 + rng.int(64)); return Buffer.concat([s, ...Array.from({ length: 1 + rng.int(20_000) }, () => part)]); }],
  ['deep nesting', (rng) => encodeWireRequest({ instanceId: `nest-${rng.int(4)}`, points: [{ attributes: [['k8s.src.name', { nested: rng.pick([20, 500, 5000, 100_000]), inner: 'x' }]], timeNs: ns(NOW), value: 1 }] })],
  ['extreme values', (rng) => {
    const value = (): WireValue => rng.pick<WireValue>(['', 'x'.repeat(rng.next() < 0.02 ? 200_000 : rng.pick([1, 300])), { double: rng.pick(EXTREMES) }, { int: rng.int(2 ** 31) }]);
    return encodeWireRequest({
      instanceId: `extreme-${rng.int(8)}`,
      resource: rng.next() < 0.2 ? [['r', value()]] : [],
      metric: rng.pick(['zonetap.network.flow.bytes', 'zonetap.network.flow.packets', 'zonetap.network.flow.cost_usd', 'other']),
      temporality: rng.pick([0, 1, 2, 3, -1]),
      monotonic: rng.next() < 0.9,
      points: Array.from({ length: 1 + rng.int(20) }, (_, i) => ({
        attributes: Array.from({ length: rng.int(40) }, (_, k) => [rng.next() < 0.1 ? 'k'.repeat(rng.pick([1, 300])) : `a${k}`, value()] as const).concat([['k8s.src.name', `p${i}`]]),
        startNs: rng.pick(TIMES),
        timeNs: rng.pick(TIMES),
        value: rng.pick(EXTREMES),
        int: rng.next() < 0.3,
      })),
    });
  }],
];

function startGateway(otlp: number, prometheus: number, telemetry: number): ZonetapProcess {
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, stringify({
    receivers: { otlp: { protocols: { grpc: { endpoint: `127.0.0.1:${otlp}` } }, max_streams_memory_mib: 32 } },
    exporters: { prometheus: { endpoint: `127.0.0.1:${prometheus}` }, flowlog: { path: join(dir, 'flows.jsonl') } },
    service: { pipelines: { flows: { receivers: ['otlp'], exporters: ['prometheus', 'flowlog'] } }, telemetry: { metrics: { endpoint: `127.0.0.1:${telemetry}` } } },
  }));
  return new ZonetapProcess('gateway', [config], { ZONETAP_TELEMETRY: `127.0.0.1:${telemetry}` }, join(dir, 'gateway.log'), 'warn');
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
}

test('fuzzed OTLP requests: clear gRPC statuses within a deadline, no crash, bounded memory, finite counters, a good agent still exact', async (t) => {
  const [otlp, prometheus, telemetry] = [await freePort(), await freePort(), await freePort()];
  gateway = startGateway(otlp, prometheus, telemetry);
  await gateway.ready(60_000);
  const pid = gateway.child.pid!;
  t.diagnostic(`seed ${SEED} (ZT_FUZZ_SEED=${SEED} replays this run)`);
  const rng = generator(SEED);
  const started = Date.now();
  const outcomes = new Map<string, number>();
  let sent = 0;
  let maxRss = 0;
  // The gzip bomb: 64 MiB of zeros, 64 KiB on the wire.
  const bomb = await rawExport(otlp, Buffer.alloc(64 << 20), { gzip: true, deadlineMs: 30_000 });
  assert.equal(bomb.code, status.RESOURCE_EXHAUSTED, bomb.details);
  while (sent < COUNT && Date.now() - started < TIME_BUDGET_MS) {
    // A few at once, as several agents would.
    const batch = Array.from({ length: 8 }, () => {
      const [name, mutate] = rng.pick(MUTATIONS);
      const gzip = rng.next() < 0.2;
      return { name, body: mutate(rng), gzip };
    });
    const results = await Promise.all(batch.map((m) => rawExport(otlp, m.body, { gzip: m.gzip, deadlineMs: 15_000 })));
    for (const [i, r] of results.entries()) {
      const { name, body } = batch[i]!;
      const what = `mutation ${sent + i} (${name}, ${body.length} bytes, seed ${SEED})`;
      assert.ok(ANSWERS.has(r.code), `${what}: answered ${r.code} ${r.details}\n${gateway.logTail()}`);
      if (r.code !== status.OK) assert.ok(r.details.length > 0, `${what}: status ${r.code} without details`);
      const key = `${name}: ${status[r.code]}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    sent += batch.length;
    maxRss = Math.max(maxRss, rssMb(pid));
    assert.ok(gateway.running, `the gateway exited:\n${gateway.logTail()}`);
  }
  t.diagnostic(`${sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, max RSS ${maxRss.toFixed(0)} MB; ${[...outcomes].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
  assert.ok(sent >= Math.min(COUNT, 300), `only ${sent} requests in the time budget`);
  assert.ok(maxRss <= MAX_RSS_MB, `RSS reached ${maxRss.toFixed(0)} MB`);

  // Still up, every counter finite, and a good agent is served exactly.
  const good = { 'src.address': '10.8.0.1', 'k8s.src.namespace': 'after-fuzz', 'dst.address': '10.8.0.2', transport: 'tcp', 'network.type': 'ipv4' };
  assert.equal((await rawExport(otlp, encodeRequest('good-agent', [series(good, NOW - 1000, 4242, 3)], NOW, 'delta'))).code, status.OK);
  // A new label set shows its count once a later render follows the one that showed it at 0.
  const afterFuzz = (samples: Sample[]) => samples.filter((s) => s.name === 'zonetap_network_flow_bytes_total' && s.labels.k8s_src_namespace === 'after-fuzz').map((s) => s.value);
  const samples = await until('the good agent\'s count on /metrics', async () => {
    const now = await scrapeMetrics(`127.0.0.1:${prometheus}`);
    return afterFuzz(now)[0] === 4242 ? now : undefined;
  });
  assert.ok(samples.every((s) => Number.isFinite(s.value)), 'a counter is not finite');
  assert.deepEqual(afterFuzz(samples), [4242]);
  assert.ok(gateway.running);
});
