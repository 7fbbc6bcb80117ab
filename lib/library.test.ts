/**
 * zonetap as a library, imported by its package name as an embedder does
 * (the package's `exports`): a service from YAML text or an object, custom
 * receivers, processors and exporters through the built-ins' factory
 * contract beside built-in ones, configuration problems, the shutdown
 * deadline, and an `exports` map that exposes nothing internal.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import * as zonetap from 'zonetap';
import { ConfigError, READ_ONLY, batchProcessorFactory, createService, z } from 'zonetap';
import type { ExporterFactory, FlowBatch, LifecycleContext, ReceiverFactory } from 'zonetap';

const silent = pino({ level: 'silent' });

/** A receiver that hands on one batch of two flows when it starts. */
const twoFlowsReceiver: ReceiverFactory<{ bytes: number }> = {
  kind: 'receiver',
  type: 'twoflows',
  stability: 'development',
  description: 'test: two flows at start',
  configSchema: z.strictObject({ bytes: z.number().int().default(1000) }),
  create: (_settings, config, next) => ({
    async start() {
      await next.consume({
        start: 0,
        end: 10_000,
        records: [
          { src: { address: '10.0.0.1', port: 1, zone: 'a' }, dst: { address: '10.0.0.2', port: 2, zone: 'b' }, transport: 'tcp', ipFamily: 'ipv4', bytes: config.bytes, packets: 1 },
          { src: { address: '10.0.0.1', port: 1, zone: 'a' }, dst: { address: '10.0.0.3', port: 2, zone: 'a' }, transport: 'tcp', ipFamily: 'ipv4', bytes: 10, packets: 1 },
        ],
      });
    },
    async shutdown() {},
  }),
};

/** A stateless processor through the same helper the built-ins use. */
const minBytesProcessor = batchProcessorFactory({
  type: 'minbytes',
  stability: 'development',
  description: 'test: drops small flows',
  configSchema: z.strictObject({ min_bytes: z.number().int().default(100) }),
  createBatchFunction: (_settings, config) => (batch) => {
    batch.records = batch.records.filter((r) => r.bytes >= config.min_bytes);
  },
});

/** An exporter that keeps what it is given; `stopped` says which context its shutdown got. */
function collectingExporter(onShutdown: (context: LifecycleContext) => Promise<void> = async () => {}) {
  const batches: FlowBatch[] = [];
  const factory: ExporterFactory = {
    kind: 'exporter',
    type: 'collect',
    stability: 'development',
    description: 'test: collects batches',
    configSchema: z.strictObject({}),
    create: () => ({
      capabilities: READ_ONLY,
      async start() {},
      async consume(batch) {
        batches.push(structuredClone(batch));
      },
      shutdown: onShutdown,
    }),
  };
  return { factory, batches };
}

const YAML = `
receivers:
  twoflows: { bytes: 5000 }
processors:
  minbytes: { min_bytes: 100 }
  crosszone: {}
exporters:
  collect: {}
service:
  pipelines:
    flows:
      receivers: [twoflows]
      processors: [minbytes, crosszone]
      exporters: [collect]
  telemetry:
    metrics: { endpoint: none }
`;

const OBJECT = {
  receivers: { twoflows: { bytes: 5000 } },
  processors: { minbytes: { min_bytes: 100 }, crosszone: {} },
  exporters: { collect: {} },
  service: { pipelines: { flows: { receivers: ['twoflows'], processors: ['minbytes', 'crosszone'], exporters: ['collect'] } }, telemetry: { metrics: { endpoint: 'none' } } },
};

function configProblems(config: string | Record<string, unknown>, configName?: string): string[] {
  const { factory } = collectingExporter();
  try {
    createService({ config, configName, components: [twoFlowsReceiver, minBytesProcessor, factory], logger: silent });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.lines];
    throw err;
  }
  return [];
}

describe('zonetap as a library', () => {
  for (const [shape, config] of [['YAML text', YAML], ['an object', OBJECT]] as const) {
    test(`a service from ${shape} runs custom components beside built-in ones and stops within its deadline`, async () => {
      let given: LifecycleContext | undefined;
      const { factory, batches } = collectingExporter(async (context) => void (given = context));
      const service = createService({ config, components: [twoFlowsReceiver, minBytesProcessor, factory], logger: silent, shutdownTimeoutMs: 4000 });
      assert.equal(service.ready, false, 'nothing runs before start()');
      await service.start();
      assert.equal(service.ready, true);
      assert.equal(service.telemetryAddress, undefined, 'endpoint none: no telemetry server');
      const before = Date.now();
      assert.equal(await service.shutdown(), true);
      assert.equal(service.ready, false);
      // One batch, the 10-byte flow dropped by the custom processor, the other classified by crosszone.
      assert.deepEqual(batches.map((b) => b.records.map((r) => [r.dst.address, r.bytes, r.trafficClass])), [[['10.0.0.2', 5000, 'cross_zone']]]);
      // The exporter was given the service's one deadline, shutdownTimeoutMs from when shutdown began.
      assert.ok(given, 'the exporter was shut down');
      assert.ok(given.deadline >= before + 4000 && given.deadline <= Date.now() + 4000, `deadline ${given.deadline - before} ms after shutdown began`);
      assert.equal(given.signal.aborted, false);
    });
  }

  test('a component that ignores the deadline does not hold shutdown: it resolves false and its signal aborts', async () => {
    let signal: AbortSignal | undefined;
    const { factory } = collectingExporter((context) => {
      signal = context.signal;
      return new Promise<void>(() => {}); // never settles
    });
    const service = createService({ config: YAML, components: [twoFlowsReceiver, minBytesProcessor, factory], logger: silent, shutdownTimeoutMs: 200 });
    await service.start();
    assert.equal(await service.shutdown(), false);
    assert.equal(signal?.aborted, true);
    assert.equal(await service.shutdown(), false, 'a second call returns the first call\'s result');
  });

  test('configuration problems are all reported, with line and column for YAML text and the key path for objects', () => {
    const yaml = YAML.replace('min_bytes: 100', 'min_byts: 100').replace('[twoflows]', '[twoflow]');
    assert.deepEqual(configProblems(yaml, 'embedded.yaml'), [
      'embedded.yaml:5:15: processors::minbytes::min_byts: unknown key "min_byts"; did you mean "min_bytes"?',
      'embedded.yaml:12:19: service::pipelines::flows::receivers::0: references receiver "twoflow", which is not defined under receivers; did you mean "twoflows"?',
    ]);
    const object = structuredClone(OBJECT) as Record<string, any>;
    object.exporters = { colect: {} };
    assert.deepEqual(configProblems(object), [
      '<config>: exporters::colect: unknown exporter type "colect"; did you mean "collect"?',
      '<config>: service::pipelines::flows::exporters::0: references exporter "collect", which is not defined under exporters; did you mean "colect"?',
    ]);
    assert.deepEqual(configProblems('receivers: [a'), ['<config>:1:14: invalid YAML: flow sequence in block collection must be sufficiently indented and end with a ]']);
    assert.deepEqual(configProblems({}), ['<config>: service: missing required section: add service::pipelines::flows with receivers and exporters']);
  });

  test('${env:NAME} in YAML text comes from the env option; a missing variable is a problem', () => {
    const yaml = YAML.replace('bytes: 5000', 'bytes: "${env:FLOW_BYTES}"');
    assert.deepEqual(configProblems(yaml), ['<config>:3:23: receivers::twoflows::bytes: environment variable "FLOW_BYTES" is not set']);
    const { factory } = collectingExporter();
    assert.doesNotThrow(() => createService({ config: yaml, env: { FLOW_BYTES: '5000' }, components: [twoFlowsReceiver, minBytesProcessor, factory], logger: silent }));
  });

  test('a custom component may not take a built-in type of its kind', () => {
    const impostor = batchProcessorFactory({ ...minBytesProcessor, type: 'crosszone', createBatchFunction: () => () => {} });
    assert.throws(() => createService({ config: YAML, components: [impostor], logger: silent }), /^Error: duplicate processor factory "crosszone"$/);
  });

  test('the exports map exposes the root module only: internal paths are not importable by the package name', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    assert.deepEqual(pkg.exports, { '.': './lib/index.ts', './package.json': './package.json' });
    for (const internal of ['zonetap/pipeline/service.ts', 'zonetap/lib/service.ts', 'zonetap/cli/factories.ts', 'zonetap/receivers/netfilter/index.ts']) {
      await assert.rejects(import(internal), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' }, internal);
    }
  });

  test('README "Use as a library" documents every export of lib/index.ts, values and types', () => {
    const index = readFileSync(new URL('./index.ts', import.meta.url), 'utf8');
    const typeNames = [...index.matchAll(/export type \{([^}]*)\}/g)].flatMap((m) => m[1]!.split(',').map((n) => n.trim()).filter(Boolean));
    const valueNames = Object.keys(zonetap);
    assert.ok(!/export \*/.test(index), 'no export *: the surface is listed name by name');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = /\n## Use as a library\n([\s\S]*?)\n## /.exec(readme)?.[1];
    assert.ok(section, 'README.md has no "Use as a library" section');
    const documented = new Set([...section.matchAll(/`([A-Za-z_]\w*)/g)].map((m) => m[1]));
    for (const name of [...valueNames, ...typeNames]) assert.ok(documented.has(name), `README "Use as a library" does not mention \`${name}\``);
  });
});
