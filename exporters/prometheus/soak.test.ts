/**
 * Soak: pods churn (every batch brings new pod names), series_ttl is short,
 * /metrics is scraped every second over HTTP. Series count and heap must stay
 * flat, long-lived series must keep exact totals, and expiry must keep up so
 * that the cardinality cap is never reached although far more label sets than
 * max_series pass through. Bounded: ZONETAP_SOAK_SECONDS (default 40).
 *
 * The exporter's clock is the test's: each batch is one TICK_MS later (the
 * batches run back to back, SECONDS of the exporter's time in all), so the
 * series alive at any batch follow from the batch count alone, and a loaded
 * machine changes how long the soak takes, not what it must find.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { testSettings } from '../../test/support/components.ts';
import { scrapeMetrics as scrape } from '../../test/support/prometheus.ts';
import { flow, pod } from '../../test/support/flow-records.ts';
import { configSchema, PrometheusFlowExporter } from './index.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SECONDS = Number(process.env.ZONETAP_SOAK_SECONDS ?? 40);
const TICK_MS = 100;
const NEW_PODS_PER_TICK = 200;
const TTL_MS = 2000;
const STABLE = 50;

function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

test(`series and heap stay flat over ${SECONDS}s of pod churn`, { timeout: (4 * SECONDS + 60) * 1000 }, async () => {
  const maxSeries = 10_000;
  let now = Date.now();
  const e = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), configSchema.parse({ endpoint: '127.0.0.1:0', series_ttl: `${TTL_MS}ms`, max_series: maxSeries }), { now: () => now });
  await e.start();
  try {
    const db = pod('db', 'pg-0', 'pg', 'node-b', 'zone-b');
    const stable = Array.from({ length: STABLE }, (_, i) => pod('shop', `api-${i}`, 'api', 'node-a', 'zone-a'));
    const ticks = Math.max((SECONDS * 1000) / TICK_MS, Math.ceil((3 * maxSeries) / NEW_PODS_PER_TICK)); // at least 3x max_series label sets
    const ticksPerScrape = 1000 / TICK_MS;
    let maxSeen = 0;
    let warmHeap: number | undefined;
    const heap: number[] = [];
    for (let tick = 1; tick <= ticks; tick++) {
      now += TICK_MS;
      const records = stable.map((src) => flow(src, db, 10, 1, 'cross_zone'));
      for (let k = 0; k < NEW_PODS_PER_TICK; k++) records.push(flow(pod('batch', `job-${tick}-${k}`, `job-${tick % 7}`, 'node-a', 'zone-a'), db, 100, 1, 'cross_zone'));
      await e.consume({ start: now - TICK_MS, end: now, records });
      maxSeen = Math.max(maxSeen, e.flows.size);
      if (tick % ticksPerScrape === 0) {
        const samples = await scrape(e.address!);
        assert.ok(samples.length > 0);
        if (tick >= ticks / 3) {
          warmHeap ??= heapMb();
          heap.push(heapMb());
        }
      }
    }
    const endHeap = heapMb();
    const passedThrough = ticks * NEW_PODS_PER_TICK;
    // consume() expires series idle for more than the ttl whenever ttl/4 (5 ticks) passed since
    // the last expiry (a scrape expires too). So after any batch the last expiry was at most 4
    // ticks before it, and a label set survives it for 20 ticks more (idle exactly the ttl is
    // kept): the label sets of at most 25 batches are alive, on top of the stable ones.
    const bound = STABLE + NEW_PODS_PER_TICK * (TTL_MS / TICK_MS + TTL_MS / 4 / TICK_MS);
    console.log(`soak: ${ticks} batches, ${passedThrough} churned label sets, max ${maxSeen} live (bound ${bound}), heap ${warmHeap?.toFixed(1)} MB after warm-up -> ${endHeap.toFixed(1)} MB at end (min ${Math.min(...heap).toFixed(1)}, max ${Math.max(...heap).toFixed(1)})`);

    assert.ok(passedThrough >= 3 * maxSeries, `${passedThrough} label sets passed through, 3x max_series ${maxSeries}`);
    assert.ok(maxSeen <= bound, `at most ${bound} live series, saw ${maxSeen}`);
    assert.equal(e.flows.overflowRecords, 0, 'expiry kept the store under max_series');
    assert.ok(e.flows.expiredSeries >= passedThrough - bound, `${e.flows.expiredSeries} expired`);
    assert.ok(warmHeap !== undefined);
    assert.ok(endHeap - warmHeap < 16, `heap grew from ${warmHeap.toFixed(1)} MB to ${endHeap.toFixed(1)} MB`);

    // Long-lived series kept exact totals through all the churn. The last
    // scrape's render is served for exposition_max_age (1s): let that pass.
    now += 1000;
    const samples = await scrape(e.address!);
    const api = samples.filter((s) => s.name === 'zonetap_network_flow_bytes_total' && s.labels.k8s_src_owner_name === 'api');
    assert.equal(api.length, STABLE);
    for (const s of api) assert.equal(s.value, 10 * ticks);
    assert.equal(maxSeen, bound, 'the bound is reached: it is the exact worst case, not a guess');
  } finally {
    await e.shutdown();
  }
});
