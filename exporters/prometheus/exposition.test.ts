import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { testSettings } from '../../test/support/components.ts';
import { FlowStore } from '../series/index.ts';
import { ExpositionRenderer, NO_METRICS, type CounterFamily } from './exposition.ts';
import { SharedExposition } from './shared-exposition.ts';
import { configSchema, OVERFLOW_LABELS, PrometheusFlowExporter } from './index.ts';
import { flow, pod } from '../../test/support/flow-records.ts';
import { officialExposition, parseExpositionStrictly as parseExposition } from '../../test/support/prometheus.ts';

const text = (chunks: readonly Buffer[]) => Buffer.concat(chunks).toString('utf8');
const store = (maxSeries = 100) => new FlowStore({ ttlMs: 60_000, maxSeries, overflowAttributes: OVERFLOW_LABELS });
const families = (flows: FlowStore, pods: FlowStore): CounterFamily[] => [
  { name: 'zonetap_network_flow_bytes_total', help: 'IP bytes sent.', store: flows, value: (s) => s.bytes },
  { name: 'zonetap_network_flow_cost_usd_total', help: 'Cost\nwith a "newline" and a \\ backslash.', store: flows, value: (s) => s.costUsd },
  { name: 'pod_cross_zone_network_traffic_bytes_total', help: 'The amount of cross-zone traffic the pod caused', store: pods, value: (s) => s.bytes },
];

describe('exposition', () => {
  test('is byte for byte what @opentelemetry/exporter-prometheus writes for the same series, across slices', async () => {
    const flows = store(6);
    const pods = store();
    const labelSets = [
      { k8s_src_namespace: 'shop', k8s_src_name: 'api-0', zonetap_traffic_class: 'cross_zone' },
      { k8s_src_namespace: 'quote"s', k8s_src_name: 'back\\slash', note: 'new\nline' },
      { 'dotted.name': 'zöne-ä', 'dash-name': '日本', 'double__underscore': '' },
      { src_port: 443, k8s_src_host_network: true } as Record<string, string | number | boolean>,
      {},
      { k8s_src_namespace: 'shop', k8s_src_name: 'api-1' },
    ];
    const values = [0, 9_000_000_000, 2 ** 53 + 2, 0.1 + 0.2, 1e-8, 123456789.125];
    labelSets.forEach((labels, i) => flows.add(labels, values[i]!, 1, i % 2 ? 1e-8 * i : undefined, 1000));
    flows.add({ new: 'set' }, 7, 1, 0.5, 1000); // past max_series: the overflow series
    flows.add({ another: 'set' }, 1e21, 1, undefined, 1000);
    pods.add({ namespace: 'shop', pod: 'api-0' }, Infinity, 1, undefined, 1000);

    for (const sliceSamples of [1, 2, 3, 1000]) {
      const renderer = new ExpositionRenderer(families(flows, pods), sliceSamples);
      assert.equal(text(await renderer.render()), officialExposition(families(flows, pods)), `${sliceSamples} samples per slice`);
    }
  });

  test('is the same across output buffers: megabytes of multi-byte labels, and one label larger than a buffer', async () => {
    const flows = store(5000);
    for (let i = 0; i < 3000; i++) flows.add({ pod: `zöne-日本-${i}-${'é'.repeat(i % 300)}` }, i, 1, i * 1e-9, 1000);
    flows.add({ pod: 'x'.repeat(300_000) }, 1, 1, undefined, 1000);
    const both = families(flows, store());
    const rendered = text(await new ExpositionRenderer(both).render());
    assert.ok(Buffer.byteLength(rendered) > 2 * 2 ** 20);
    assert.equal(rendered, officialExposition(both));
  });

  test('with no series at all, says so as exporter-prometheus does', async () => {
    const empty = families(store(), store());
    assert.equal(text(await new ExpositionRenderer(empty).render()), NO_METRICS);
    assert.equal(officialExposition(empty), NO_METRICS);
  });

  test('values are taken at the start of a render: a series updated between slices keeps bytes and packets from the same moment', async () => {
    const flows = store();
    for (let i = 0; i < 10; i++) flows.add({ pod: `p-${i}` }, 100, 1, undefined, 1000);
    const twoFamilies: CounterFamily[] = [
      { name: 'bytes_total', help: 'b', store: flows, value: (s) => s.bytes },
      { name: 'packets_total', help: 'p', store: flows, value: (s) => s.packets },
    ];
    const renderer = new ExpositionRenderer(twoFamilies, 3);
    const rendering = renderer.render();
    await yieldToEventLoop();
    for (let i = 0; i < 10; i++) flows.add({ pod: `p-${i}` }, 100, 1, undefined, 2000);
    const samples = parseExposition(text(await rendering));
    assert.ok(renderer.slices > 2);
    assert.deepEqual(new Set(samples.map((s) => s.value)), new Set([100, 1]));
  });
});

describe('shared renders', () => {
  /** A render that finishes when the test says so. */
  function controlledRender() {
    const pending: PromiseWithResolvers<Buffer[]>[] = [];
    return {
      pending,
      render: () => {
        const p = Promise.withResolvers<Buffer[]>();
        pending.push(p);
        return p.promise;
      },
    };
  }

  test('scrapes that arrive while a render runs share it, however old it gets meanwhile', async () => {
    let now = 0;
    const { pending, render } = controlledRender();
    const shared = new SharedExposition(render, { maxAgeMs: 1000, now: () => now });
    const first = shared.get();
    now += 3_600_000;
    const others = Array.from({ length: 49 }, () => shared.get());
    assert.equal(pending.length, 1);
    pending[0]!.resolve([Buffer.from('one')]);
    for (const exposition of await Promise.all([first, ...others])) assert.equal(text(exposition.chunks), 'one');
  });

  test('a finished render is served while younger than the max age, then a new one is made', async () => {
    let now = 0;
    const { pending, render } = controlledRender();
    const shared = new SharedExposition(render, { maxAgeMs: 1000, now: () => now });
    const first = shared.get();
    pending[0]!.resolve([Buffer.from('first')]);
    await first;
    now += 999;
    assert.equal(text((await shared.get()).chunks), 'first');
    assert.equal(pending.length, 1);
    now += 1;
    const second = shared.get();
    assert.equal(pending.length, 2);
    pending[1]!.resolve([Buffer.from('second')]);
    assert.equal(text((await second).chunks), 'second');
  });

  test('a failed render is not kept: the next scrape renders again', async () => {
    const { pending, render } = controlledRender();
    const shared = new SharedExposition(render, { maxAgeMs: 1000, now: () => 0 });
    const failing = shared.get();
    pending[0]!.reject(new Error('boom'));
    await assert.rejects(failing, /boom/);
    const next = shared.get();
    assert.equal(pending.length, 2);
    pending[1]!.resolve([Buffer.from('ok')]);
    assert.equal(text((await next).chunks), 'ok');
  });
});

describe('scrapes on /metrics', () => {
  const running: PrometheusFlowExporter[] = [];
  after(async () => {
    for (const e of running) await e.shutdown();
  });
  const db = pod('db', 'pg-0', 'pg', 'node-b', 'zone-b');
  const records = (n: number, bytes = 1) => Array.from({ length: n }, (_, i) => flow(pod('shop', `api-${i}`, 'api', 'node-a', 'zone-a'), db, bytes, 1, 'cross_zone', 0.001));

  test('50 concurrent scrapes cause one render, and consume() is served between its slices', async () => {
    const now = 1_000_000; // a still clock: nothing ages, so every scrape of this test may share one render
    const e = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), configSchema.parse({ endpoint: '127.0.0.1:0' }), { now: () => now, sliceSamples: 50 });
    running.push(e);
    await e.start();
    await e.consume({ start: now - 1000, end: now, records: records(1_000) });

    const scrapes = Promise.all(Array.from({ length: 50 }, async () => (await fetch(`http://${e.address}/metrics`)).text()));
    let scraped = false;
    void scrapes.finally(() => (scraped = true));
    // Ingest keeps going while the scrapes are served: after each batch, note how many slices were rendered.
    const slicesSeenByConsume: number[] = [];
    const more = records(100);
    while (!scraped) {
      await e.consume({ start: now - 1000, end: now, records: more });
      slicesSeenByConsume.push(e.renderSlices);
      await yieldToEventLoop();
    }
    const bodies = await scrapes;

    assert.equal(e.renders, 1);
    assert.ok(bodies.every((b) => b === bodies[0]), 'every scrape got the same exposition');
    assert.equal(parseExposition(bodies[0]!).filter((s) => s.name === 'zonetap_network_flow_bytes_total').length, 1_000);
    const slices = e.renderSlices;
    assert.ok(slices >= (1_000 * 4) / 50, `${slices} slices`);
    assert.ok(slicesSeenByConsume.some((n) => n > 0 && n < slices), `consume() ran between two slices (slices seen: ${[...new Set(slicesSeenByConsume)].join(', ')} of ${slices})`);
  });

  test('a scrape after the max age sees what was consumed meanwhile', async () => {
    let now = 1_000_000;
    // Counts at once (new_series_at_zero is prometheus.test.ts's): this is about the render's age.
    const e = new PrometheusFlowExporter(testSettings('prometheus', 'exporter'), configSchema.parse({ endpoint: '127.0.0.1:0', exposition_max_age: '1s', new_series_at_zero: false }), { now: () => now });
    running.push(e);
    await e.start();
    const bytes = async () => parseExposition(await (await fetch(`http://${e.address}/metrics`)).text()).find((s) => s.name === 'zonetap_network_flow_bytes_total')?.value;
    await e.consume({ start: now - 1000, end: now, records: records(1, 10) });
    assert.equal(await bytes(), 10);
    await e.consume({ start: now - 1000, end: now, records: records(1, 5) });
    now += 500;
    assert.equal(await bytes(), 10, 'served from the render of 500 ms ago');
    now += 500;
    assert.equal(await bytes(), 15);
    assert.equal(e.renders, 2);
  });
});
