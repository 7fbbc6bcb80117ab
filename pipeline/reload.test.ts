/**
 * Service.reload with small factories: a `ticker` receiver hands on numbered
 * batches back to back (awaiting each, as the netfilter receiver does) and
 * one more when it shuts down; `collect` exporters record the numbers they
 * get. Several reloads while it ticks must lose and double nothing, carry over
 * what did not change as the same instances, replace, remove and add the
 * rest in the right order, and put the running configuration back when a new
 * component fails to start.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { z } from 'zod';
import { MUTATES_DATA, READ_ONLY } from './component.ts';
import type { ComponentSettings, ExporterFactory, FlowConsumer, LifecycleContext, ProcessorFactory, ReceiverFactory } from './component.ts';
import { loadConfig } from './config/load.ts';
import type { ServiceConfig } from './config/types.ts';
import type { FlowBatch } from './flow.ts';
import { FactoryRegistry } from './registry.ts';
import { Service } from './service.ts';

const schema = z.strictObject({ note: z.string().default(''), fail_start: z.boolean().default(false), slow_start: z.boolean().default(false) });
type Settings = z.infer<typeof schema>;
const base = { stability: 'development' as const, description: 'test', configSchema: schema };

let events: string[] = [];
/** Instances created per component ID. */
const created = new Map<string, number>();
/** Every number a ticker handed on, and what each `collect` exporter ID received (all its instances). */
let sent: number[] = [];
const received = new Map<string, number[]>();
const reopened: string[] = [];

const numbered = (n: number): FlowBatch => ({
  start: n,
  end: n + 1,
  records: [{ src: { address: '10.0.0.1', port: 1 }, dst: { address: '10.0.0.2', port: 2 }, transport: 'udp', ipFamily: 'ipv4', bytes: n, packets: 1 }],
});

/** A shutdown's flush takes a few turns of the event loop (real ones write files, send requests): the ticker ticks meanwhile. */
async function flushing(): Promise<void> {
  for (let i = 0; i < 5; i++) await nextTurn();
}

function count(id: string): void {
  created.set(id, (created.get(id) ?? 0) + 1);
}

const ticker: ReceiverFactory<Settings> = {
  ...base,
  kind: 'receiver',
  type: 'ticker',
  create(s, _c, next: FlowConsumer) {
    count(s.id);
    let stopping = false;
    let loop: Promise<void> | undefined;
    const send = async () => {
      const n = sent.length;
      sent.push(n);
      await next.consume(numbered(n));
    };
    return {
      async start() {
        events.push(`start ${s.id}`);
        loop = (async () => {
          while (!stopping) {
            await send();
            await nextTurn();
          }
        })();
      },
      async shutdown() {
        events.push(`shutdown ${s.id}`);
        stopping = true;
        await loop;
        await send(); // the final drain, as netfilter's shutdown does
      },
    };
  },
};

/**
 * start() and shutdown() that log, and whether the component runs: consume()
 * of one that is not running rejects, as real components do.
 */
function lifecycle(s: ComponentSettings, c: Settings) {
  count(s.id);
  const state = { running: false };
  return {
    state,
    async start(context: LifecycleContext) {
      events.push(`start ${s.id}`);
      if (c.fail_start) throw new Error('port 9999 is already in use');
      // Starts only when told to give up (as a component waiting for an API that never answers).
      if (c.slow_start) await new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(new Error('gave up starting')), { once: true }));
      state.running = true;
    },
    async shutdown() {
      events.push(`shutdown ${s.id}`);
      state.running = false;
      await flushing();
    },
    mustRun() {
      if (!state.running) throw new Error(`${s.id} is not running`);
    },
  };
}

const stamp: ProcessorFactory<Settings> = {
  ...base,
  kind: 'processor',
  type: 'stamp',
  create(s, c, next) {
    const { start, shutdown, mustRun } = lifecycle(s, c);
    return {
      capabilities: MUTATES_DATA,
      start,
      shutdown,
      async consume(batch) {
        mustRun();
        for (const r of batch.records) r.src.zone = `${r.src.zone ?? ''}/${s.id}${c.note}`;
        await next.consume(batch);
      },
    };
  },
};

const collect: ExporterFactory<Settings> = {
  ...base,
  kind: 'exporter',
  type: 'collect',
  create(s, c) {
    const { state, start, shutdown, mustRun } = lifecycle(s, c);
    s.meter.createObservableGauge('test.collect.running').addCallback((r) => r.observe(state.running ? 1 : 0, { component_id: s.id }));
    return {
      capabilities: READ_ONLY,
      start,
      shutdown,
      async consume(batch) {
        mustRun();
        for (const r of batch.records) received.set(s.id, [...(received.get(s.id) ?? []), r.bytes]);
      },
      async reopen() {
        reopened.push(s.id);
      },
    };
  },
};

const registry = new FactoryRegistry([ticker, stamp, collect]);
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zt-reload-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  events = [];
  sent = [];
  created.clear();
  received.clear();
  reopened.length = 0;
});

let n = 0;
async function configOf(pipeline: string, components: string, telemetry = 'none'): Promise<ServiceConfig> {
  const file = join(dir, `config-${n++}.yaml`);
  await writeFile(file, `${components}\nservice:\n  pipelines:\n${pipeline}\n  telemetry: { metrics: { endpoint: ${telemetry} } }\n`);
  return loadConfig([file], registry);
}

/** Waits until the ticker has handed on at least `more` further batches. */
async function ticks(more: number): Promise<void> {
  const until = sent.length + more;
  while (sent.length < until) await nextTurn();
}

const A = {
  components: 'receivers: { ticker: }\nprocessors: { stamp/a: }\nexporters: { collect/truth: , collect/x: }',
  pipeline: '    flows: { receivers: [ticker], processors: [stamp/a], exporters: [collect/truth, collect/x] }',
};

describe('Service.reload', () => {
  it('under traffic: nothing lost or doubled; unchanged components carried over, the rest replaced, removed, added in order', async () => {
    const service = new Service(await configOf(A.pipeline, A.components), registry, { logger: pino({ level: 'silent' }) });
    await service.start();
    await ticks(20);
    events = [];
    // Processors changed around a carried-over one, an exporter added, one removed.
    const b = await service.reload(
      await configOf(
        '    flows: { receivers: [ticker], processors: [stamp/b, stamp/a], exporters: [collect/truth, collect/y] }',
        'receivers: { ticker: }\nprocessors: { stamp/a: , stamp/b: }\nexporters: { collect/truth: , collect/y: }',
      ),
    );
    assert.deepEqual(b, {
      kept: ['"collect/truth" exporter', '"stamp/a" processor in pipeline "flows"', '"ticker" receiver'],
      replaced: [],
      added: ['"collect/y" exporter', '"stamp/b" processor in pipeline "flows"'],
      removed: ['"collect/x" exporter'],
    });
    assert.deepEqual(events, ['shutdown collect/x', 'start collect/y', 'start stamp/b']);
    await ticks(20);
    events = [];
    // A changed exporter and a changed processor are replaced: shut down before their successors start.
    const c = await service.reload(
      await configOf(
        '    flows: { receivers: [ticker], processors: [stamp/b, stamp/a], exporters: [collect/truth, collect/y] }',
        'receivers: { ticker: }\nprocessors: { stamp/a: { note: "!" }, stamp/b: }\nexporters: { collect/truth: , collect/y: { note: v2 } }',
      ),
    );
    assert.deepEqual(c.replaced, ['"collect/y" exporter', '"stamp/a" processor in pipeline "flows"']);
    assert.deepEqual(events, ['shutdown stamp/a', 'shutdown collect/y', 'start collect/y', 'start stamp/a']);
    await ticks(20);
    // The receiver itself replaced: its final batch goes out before its successor starts.
    events = [];
    const d = await service.reload(await configOf(A.pipeline, A.components.replace('ticker: }', 'ticker: { note: again } }')));
    assert.deepEqual(d.replaced, ['"stamp/a" processor in pipeline "flows"', '"ticker" receiver']);
    assert.deepEqual(events.slice(0, 3), ['shutdown ticker', 'shutdown stamp/a', 'shutdown stamp/b']);
    await ticks(20);
    assert.equal(await service.shutdown(), true);

    assert.deepEqual(received.get('collect/truth'), sent, 'every batch reached the carried-over exporter once, in order');
    assert.deepEqual(sent, [...sent.keys()]);
    assert.equal(created.get('collect/truth'), 1, 'carried over as the same instance');
    assert.equal(created.get('ticker'), 2);
    assert.deepEqual(reopened.filter((id) => id === 'collect/truth').length, 3, 'carried-over components reopen their files on every reload');
  });

  it('a new component that fails to start: the error is thrown, the previous configuration runs again, no batch lost', async () => {
    const service = new Service(await configOf(A.pipeline, A.components), registry, { logger: pino({ level: 'silent' }) });
    await service.start();
    await ticks(10);
    const broken = await configOf(A.pipeline, A.components.replace('collect/x: ', 'collect/x: { fail_start: true, note: new }'));
    await assert.rejects(service.reload(broken), /^ZonetapError: failed to start "collect\/x" exporter: port 9999 is already in use$/);
    await ticks(10);
    assert.equal(service.ready, true);
    assert.equal(await service.shutdown(), true);
    assert.deepEqual(received.get('collect/truth'), sent);
    // collect/x was shut down for its successor, which failed: started anew from the previous configuration.
    assert.equal(created.get('collect/x'), 3);
    assert.deepEqual(received.get('collect/x')?.at(-1), sent.at(-1), 'the restored collect/x receives again');
  });

  it('a shutdown during a reload ends it and stops everything in order, losing nothing', async () => {
    const service = new Service(await configOf(A.pipeline, A.components), registry, { logger: pino({ level: 'silent' }) });
    await service.start();
    await ticks(10);
    const slow = await configOf(A.pipeline, A.components.replace('collect/x: ', 'collect/x: { slow_start: true }'));
    events = [];
    const reload = service.reload(slow);
    while (!events.includes('start collect/x')) await nextTurn(); // the new collect/x is starting (and never will)
    assert.equal(await service.shutdown(), true);
    await assert.rejects(reload, /gave up starting|interrupted/);
    assert.deepEqual(received.get('collect/truth'), sent, 'the final batch reached the carried-over exporter');
    assert.equal(events.filter((e) => e === 'shutdown ticker').length, 1);
  });

  it('the metrics of retired instances leave /metrics; a moved telemetry endpoint serves them', async () => {
    const service = new Service(await configOf(A.pipeline, A.components, '127.0.0.1:0'), registry, { logger: pino({ level: 'silent' }) });
    await service.start();
    const scrape = async () => (await fetch(`http://127.0.0.1:${service.telemetryAddress!.port}/metrics`)).text();
    assert.match(await scrape(), /^test_collect_running\{component_id="collect\/x"\} 1$/m);
    const first = service.telemetryAddress!.port;
    await service.reload(
      await configOf(
        '    flows: { receivers: [ticker], exporters: [collect/truth] }',
        'receivers: { ticker: }\nexporters: { collect/truth: { note: changed } }',
        '127.0.0.2:0',
      ),
    );
    assert.equal(service.telemetryAddress!.host, '127.0.0.2');
    await assert.rejects(fetch(`http://127.0.0.1:${first}/metrics`));
    const text = await scrape().catch(async () => (await fetch(`http://127.0.0.2:${service.telemetryAddress!.port}/metrics`)).text());
    assert.doesNotMatch(text, /^test_collect_running\{component_id="collect\/x"\}/m, 'the removed exporter\'s gauge is gone');
    assert.deepEqual(text.match(/^test_collect_running\{component_id="collect\/truth"\} \d$/gm), ['test_collect_running{component_id="collect/truth"} 1'], 'one series: the new instance');
    assert.equal(await service.shutdown(), true);
  });
});
