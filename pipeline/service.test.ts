/**
 * The pipeline graph and the Service lifecycle, with small recording factories:
 * shared components, fan-out cloning, start/shutdown order, start failure,
 * consumer failures counted as drops, the shutdown deadline, /readyz and /startedz.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { z } from 'zod';
import { MUTATES_DATA, READ_ONLY } from './component.ts';
import type { ComponentSettings, ExporterFactory, FlowConsumer, LifecycleContext, ProcessorFactory, ReceiverFactory } from './component.ts';
import { loadConfig } from './config/load.ts';
import { ZonetapError } from './errors.ts';
import type { FlowBatch } from './flow.ts';
import { remainingMs } from './lifecycle.ts';
import { FactoryRegistry } from './registry.ts';
import { Service } from './service.ts';
import { until } from '../test/support/poll.ts';

const silent = pino({ level: 'silent' });
let events: string[] = [];

/** Receivers built by the `pulse` factory, by id: tests push batches through them. */
const pulses = new Map<string, { next: FlowConsumer }>();
/** Batches each exporter instance received, by id; and how many instances each id had. */
const received = new Map<string, FlowBatch[]>();
const created = new Map<string, number>();

const settingsSchema = z.strictObject({ fail_start: z.boolean().default(false), fail_consume: z.boolean().default(false), hang_shutdown: z.boolean().default(false), stop_on_deadline: z.boolean().default(false) });
type Settings = z.infer<typeof settingsSchema>;

/** The context each component's shutdown() was given, by id. */
const shutdownContexts = new Map<string, LifecycleContext>();

function lifecycle(s: ComponentSettings, c: Settings) {
  created.set(s.id, (created.get(s.id) ?? 0) + 1);
  return {
    async start() {
      events.push(`start ${s.kind} ${s.id}`);
      if (c.fail_start) throw new Error('port 4317 is already in use');
    },
    async shutdown(context: LifecycleContext) {
      shutdownContexts.set(s.id, context);
      events.push(`shutdown ${s.kind} ${s.id}`);
      if (c.hang_shutdown) await new Promise(() => {});
      // Waits out its whole budget, then stops in good order (a flush retried until the deadline).
      if (c.stop_on_deadline) await new Promise((resolve) => setTimeout(resolve, remainingMs(context)));
    },
  };
}

const base = { stability: 'development' as const, description: 'test', configSchema: settingsSchema };
const pulse: ReceiverFactory<Settings> = {
  ...base,
  kind: 'receiver',
  type: 'pulse',
  create(s, c, next) {
    pulses.set(s.id, { next });
    return lifecycle(s, c);
  },
};
const tag: ProcessorFactory<Settings> = {
  ...base,
  kind: 'processor',
  type: 'tag',
  create(s, c, next) {
    return {
      ...lifecycle(s, c),
      capabilities: MUTATES_DATA,
      async consume(batch) {
        if (c.fail_consume) throw new Error('cannot tag');
        for (const r of batch.records) r.src.zone = `${r.src.zone ?? ''}+${s.id}`;
        await next.consume(batch);
      },
    };
  },
};
const sink = (type: string, mutatesData: boolean): ExporterFactory<Settings> => ({
  ...base,
  kind: 'exporter',
  type,
  create(s, c) {
    return {
      ...lifecycle(s, c),
      capabilities: mutatesData ? MUTATES_DATA : READ_ONLY,
      async consume(batch) {
        if (c.fail_consume) throw new Error('backend unreachable');
        if (mutatesData) for (const r of batch.records) r.bytes = -1;
        received.set(s.id, [...(received.get(s.id) ?? []), batch]);
      },
    };
  },
});
const registry = new FactoryRegistry([pulse, tag, sink('reader', false), sink('mutator', true)]);

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zt-service-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function serviceFor(yaml: string, shutdownTimeoutMs?: number): Promise<Service> {
  events = [];
  pulses.clear();
  received.clear();
  created.clear();
  const file = join(dir, `config-${n++}.yaml`);
  await writeFile(file, yaml);
  return new Service(await loadConfig([file], registry), registry, { logger: silent, shutdownTimeoutMs });
}

const batch = (): FlowBatch => ({
  start: 1,
  end: 2,
  records: [{ src: { address: '10.0.0.1', port: 1, zone: 'a' }, dst: { address: '10.0.0.2', port: 2 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 100, packets: 1 }],
});

const NO_SERVER = '  telemetry: { metrics: { endpoint: none } }\n';

describe('pipeline graph', () => {
  it('builds a component shared by two pipelines once; the receiver feeds both, the exporter receives from both', async () => {
    const service = await serviceFor(
      `receivers: { pulse: , pulse/other: }
processors: { tag/a: , tag/b: }
exporters: { reader: , reader/b: }
service:
  pipelines:
    flows/a: { receivers: [pulse], processors: [tag/a], exporters: [reader] }
    flows/b: { receivers: [pulse, pulse/other], processors: [tag/b], exporters: [reader, reader/b] }
${NO_SERVER}`,
    );
    await service.start();
    assert.equal(created.get('pulse'), 1);
    assert.equal(created.get('reader'), 1);
    await pulses.get('pulse')!.next.consume(batch());
    // reader is in both pipelines: one batch through each processor.
    assert.deepEqual(received.get('reader')!.map((b) => b.records[0]!.src.zone).sort(), ['a+tag/a', 'a+tag/b']);
    assert.deepEqual(received.get('reader/b')!.map((b) => b.records[0]!.src.zone), ['a+tag/b']);
    await pulses.get('pulse/other')!.next.consume(batch());
    assert.equal(received.get('reader')!.length, 3);
    assert.equal(await service.shutdown(), true);
  });

  it('hands read-only consumers the same batch and mutating ones a clone', async () => {
    const service = await serviceFor(
      `receivers: { pulse: }
exporters: { reader: , reader/2: , mutator: }
service:
  pipelines: { flows: { receivers: [pulse], exporters: [reader, mutator, reader/2] } }
${NO_SERVER}`,
    );
    await service.start();
    const sent = batch();
    await pulses.get('pulse')!.next.consume(sent);
    assert.equal(received.get('reader')![0], sent);
    assert.equal(received.get('reader/2')![0], sent);
    assert.notEqual(received.get('mutator')![0], sent);
    assert.equal(received.get('mutator')![0]!.records[0]!.bytes, -1);
    assert.equal(sent.records[0]!.bytes, 100, 'the mutating exporter changed its clone, not the shared batch');
    await service.shutdown();
  });

  it('gives the original to the last of several mutating consumers and clones to the others', async () => {
    const service = await serviceFor(
      `receivers: { pulse: }
exporters: { mutator/1: , mutator/2: }
service:
  pipelines: { flows: { receivers: [pulse], exporters: [mutator/1, mutator/2] } }
${NO_SERVER}`,
    );
    await service.start();
    const sent = batch();
    await pulses.get('pulse')!.next.consume(sent);
    assert.notEqual(received.get('mutator/1')![0], sent);
    assert.equal(received.get('mutator/2')![0], sent);
    await service.shutdown();
  });
});

describe('service lifecycle', () => {
  it('starts exporters, then processors, then receivers; shuts down in reverse', async () => {
    const service = await serviceFor(
      `receivers: { pulse: }
processors: { tag: }
exporters: { reader: }
service:
  pipelines: { flows: { receivers: [pulse], processors: [tag], exporters: [reader] } }
${NO_SERVER}`,
    );
    assert.equal(service.ready, false);
    await service.start();
    assert.equal(service.ready, true);
    assert.equal(await service.shutdown(), true);
    assert.equal(service.ready, false);
    assert.equal(await service.shutdown(), true, 'shutdown is idempotent');
    assert.deepEqual(events, [
      'start exporter reader',
      'start processor tag',
      'start receiver pulse',
      'shutdown receiver pulse',
      'shutdown processor tag',
      'shutdown exporter reader',
    ]);
  });

  it('names the component that failed to start and shuts down what had started', async () => {
    const service = await serviceFor(
      `receivers: { pulse: { fail_start: true } }
processors: { tag: }
exporters: { reader: }
service:
  pipelines: { flows: { receivers: [pulse], processors: [tag], exporters: [reader] } }
${NO_SERVER}`,
    );
    await assert.rejects(service.start(), (err: unknown) => {
      assert.ok(err instanceof ZonetapError);
      assert.equal(err.code, 'ZT_COMPONENT_START');
      assert.equal(err.message, 'failed to start "pulse" receiver: port 4317 is already in use');
      return true;
    });
    assert.equal(service.ready, false);
    assert.deepEqual(events.slice(3), ['shutdown receiver pulse', 'shutdown processor tag', 'shutdown exporter reader']);
  });

  it('shutdown is safe before start', async () => {
    const service = await serviceFor(
      `receivers: { pulse: }
exporters: { reader: }
service:
  pipelines: { flows: { receivers: [pulse], exporters: [reader] } }
${NO_SERVER}`,
    );
    assert.equal(await service.shutdown(), true);
    await assert.rejects(service.start());
  });

  it('gives up on a component that does not stop within the deadline', async () => {
    const service = await serviceFor(
      `receivers: { pulse: }
exporters: { reader: { hang_shutdown: true } }
service:
  pipelines: { flows: { receivers: [pulse], exporters: [reader] } }
${NO_SERVER}`,
      200,
    );
    await service.start();
    const began = Date.now();
    assert.equal(await service.shutdown(), false);
    assert.deepEqual(events.slice(-2), ['shutdown receiver pulse', 'shutdown exporter reader']);
    // Every component was given the service's one deadline, and its signal fired there.
    const context = shutdownContexts.get('reader')!;
    assert.equal(shutdownContexts.get('pulse')!.deadline, context.deadline);
    assert.ok(context.deadline >= began + 200 && context.deadline <= began + 200 + 1000, `deadline ${context.deadline - began} ms after shutdown began`);
    assert.equal(context.signal.aborted, true);
  });

  it('counts a component that stops on its deadline as stopped cleanly: the service waits a little past it', async () => {
    const service = await serviceFor(
      `receivers: { pulse: }
exporters: { reader: { stop_on_deadline: true } }
service:
  pipelines: { flows: { receivers: [pulse], exporters: [reader] } }
${NO_SERVER}`,
      200,
    );
    await service.start();
    assert.equal(await service.shutdown(), true);
  });

  it('aborts the signal of a component still starting when shutdown begins, and waits for its start to settle', async () => {
    const service = await serviceFor(
      `receivers: { pulse: }
exporters: { reader: }
service:
  pipelines: { flows: { receivers: [pulse], exporters: [reader] } }
${NO_SERVER}`,
    );
    const original = registry.get('exporter', 'reader') as ExporterFactory<Settings>;
    const create = original.create;
    let startSignal: AbortSignal | undefined;
    original.create = (s, c) => {
      const built = create(s, c);
      return {
        ...built,
        // A start that waits for something slow until its signal says stop.
        start: (ctx) => {
          startSignal = ctx.signal;
          return new Promise<void>((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('start aborted')), { once: true }));
        },
      };
    };
    try {
      const starting = service.start();
      while (!startSignal) await new Promise((r) => setTimeout(r, 5));
      assert.equal(await service.shutdown(), true);
      assert.equal(startSignal.aborted, true);
      await assert.rejects(starting);
      assert.deepEqual(events, ['shutdown receiver pulse', 'shutdown exporter reader'], 'the exporter is shut down after its start settled; the receiver never started');
    } finally {
      original.create = create;
    }
  });
});

describe('self-telemetry', () => {
  it('serves /healthz, /readyz (503 before start and after shutdown) and per-component counts on /metrics; failures are drops, not crashes', async () => {
    const service = await serviceFor(
      `receivers: { pulse: }
processors: { tag: }
exporters: { reader: , reader/broken: { fail_consume: true } }
service:
  pipelines: { flows: { receivers: [pulse], processors: [tag], exporters: [reader, reader/broken] } }
  telemetry: { metrics: { endpoint: 127.0.0.1:0 } }
`,
    );
    await service.start();
    const { port } = service.telemetryAddress!;
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/readyz')).status, 200);
    assert.equal((await get('/nope')).status, 404);

    await pulses.get('pulse')!.next.consume(batch());
    await pulses.get('pulse')!.next.consume(batch());
    const text = await (await get('/metrics')).text();
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      assert.ok(line, `${series} missing from /metrics:\n${text}`);
      return Number(line.split(' ')[1]);
    };
    assert.equal(value('zonetap_component_records_out_total{component_id="pulse",kind="receiver"}'), 2);
    assert.equal(value('zonetap_component_records_in_total{component_id="tag",kind="processor"}'), 2);
    assert.equal(value('zonetap_component_records_out_total{component_id="tag",kind="processor"}'), 2);
    assert.equal(value('zonetap_component_records_in_total{component_id="reader",kind="exporter"}'), 2);
    assert.equal(value('zonetap_component_records_dropped_total{component_id="reader",kind="exporter"}'), 0);
    assert.equal(value('zonetap_component_records_dropped_total{component_id="reader/broken",kind="exporter"}'), 2);
    assert.equal(value('zonetap_exporter_send_failed_total{component_id="reader/broken"}'), 2);
    assert.equal(value(`zonetap_build_info{version="0.1.0",node="${process.version}"}`), 1);
    assert.ok(value('zonetap_uptime_seconds') > 0);
    assert.doesNotMatch(text, /_total_total/);

    const stopping = service.shutdown();
    assert.equal(service.ready, false);
    await stopping;
    await assert.rejects(get('/healthz'), 'the server is closed after shutdown');
  });

  it('reports readiness 503 while components are starting', async () => {
    const service = await serviceFor(
      `receivers: { pulse: }
exporters: { reader: }
service:
  pipelines: { flows: { receivers: [pulse], exporters: [reader] } }
  telemetry: { metrics: { endpoint: 127.0.0.1:0 } }
`,
    );
    // Hold the exporter's start until /readyz has been asked.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const original = registry.get('exporter', 'reader') as ExporterFactory<Settings>;
    const create = original.create;
    original.create = (s, c) => ({ ...create(s, c), start: () => gate, consume: async () => {} });
    try {
      const starting = service.start();
      const { port } = await until('the telemetry server', () => service.telemetryAddress, { intervalMs: 5 });
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(res.status, 503);
      assert.equal((await fetch(`http://127.0.0.1:${port}/startedz`)).status, 503);
      release();
      await starting;
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/startedz`)).status, 200);
    } finally {
      original.create = create;
      await service.shutdown();
    }
  });

  it('reports readiness 503 while a started component says it is not ready (e.g. not synced with Kubernetes)', async () => {
    const service = await serviceFor(
      `receivers: { pulse: }
exporters: { reader: }
service:
  pipelines: { flows: { receivers: [pulse], exporters: [reader] } }
  telemetry: { metrics: { endpoint: 127.0.0.1:0 } }
`,
    );
    let synced = false;
    const original = registry.get('exporter', 'reader') as ExporterFactory<Settings>;
    const create = original.create;
    original.create = (s, c) => {
      const built = create(s, c);
      return { ...built, start: (ctx) => built.start(ctx), shutdown: (ctx) => built.shutdown(ctx), consume: (b) => built.consume(b), get ready() { return synced; } };
    };
    try {
      await service.start();
      const readyz = () => fetch(`http://127.0.0.1:${service.telemetryAddress!.port}/readyz`).then((r) => r.status);
      assert.equal(await readyz(), 503);
      const startedz = () => fetch(`http://127.0.0.1:${service.telemetryAddress!.port}/startedz`).then((r) => r.status);
      assert.equal(await startedz(), 200, 'started, though degraded: a sidecar\'s startup probe lets the app start');
      synced = true;
      assert.equal(await readyz(), 200);
    } finally {
      original.create = create;
      await service.shutdown();
    }
  });
});
