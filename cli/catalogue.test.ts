/**
 * Components load only when a configuration uses them: the catalogue lists
 * every built-in factory (the same as cli/factories.ts, which the library
 * loads at once), and bin/zonetap's --version, --help and a validate of a
 * replay -> flowlog configuration load no other component, nor the
 * Kubernetes client or the gRPC stack (modules listed by testdata/list-modules.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FactoryRegistry } from '../pipeline/registry.ts';
import { REPO as root, run, ZONETAP as zonetap } from '../test/support/processes.ts';
import { BuiltInFactories, CATALOGUE } from './catalogue.ts';
import { FACTORIES } from './factories.ts';

const listModules = join(root, 'cli/testdata/list-modules.ts');
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zt-catalogue-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The modules bin/zonetap loaded for `args`, relative to the checkout (packages as node_modules/NAME). */
async function modulesLoaded(name: string, args: string[]): Promise<{ code: number; modules: string[] }> {
  const list = join(dir, `${name}.modules`);
  // The sources' modules: build/zonetap.mjs (which bin/zonetap runs when built) is one module.
  const env = { ...process.env, NODE_OPTIONS: `--import ${listModules}`, ZT_TEST_MODULE_LIST: list, ZONETAP_FROM_SOURCES: '1' };
  const r = await run(zonetap, args, { cwd: root, env, timeoutMs: 60_000 });
  const urls = (await readFile(list, 'utf8')).trim().split('\n');
  const modules = urls
    .filter((u) => u.startsWith('file:'))
    .map((u) => new URL(u).pathname.slice(root.length))
    .map((p) => /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(p)?.[0] ?? p);
  return { code: r.code, modules: [...new Set(modules)] };
}

const componentModules = (modules: string[]) => modules.filter((m) => /^(receivers|processors|exporters)\//.test(m));

describe('component catalogue', () => {
  it('lists every built-in factory, as cli/factories.ts does, each loading the factory of its kind and type', async () => {
    const key = (f: { kind: string; type: string }) => `${f.kind}/${f.type}`;
    assert.deepEqual(CATALOGUE.map(key).toSorted(), FACTORIES.map(key).toSorted());
    for (const entry of CATALOGUE) {
      const factory = await entry.load();
      assert.equal(factory, FACTORIES.find((f) => key(f) === key(entry)), key(entry));
      assert.equal(await entry.schema(), factory.configSchema, `${key(entry)}: validation uses the factory's own schema`);
    }
  });

  it('loads the factories a configuration names, grows one registry, and loads all for an unknown type', async () => {
    const builtIns = new BuiltInFactories();
    const registry = await builtIns.registryFor([{ kind: 'receiver', type: 'replay' }]);
    assert.deepEqual(registry.all().map((f) => f.type), ['replay']);
    assert.equal(await builtIns.registryFor([{ kind: 'exporter', type: 'flowlog' }]), registry);
    assert.deepEqual(registry.all().map((f) => f.type).toSorted(), ['flowlog', 'replay']);
    await builtIns.registryFor([{ kind: 'exporter', type: 'flowlgo' }]);
    assert.deepEqual(registry.all().length, new FactoryRegistry(FACTORIES).all().length);
  });

  it('--version and --help load no component, no configuration code and no heavy library', async () => {
    for (const args of [['--version'], ['--help'], ['run', '--help']]) {
      const { code, modules } = await modulesLoaded(args.join(''), args);
      assert.equal(code, 0);
      assert.ok(modules.includes('cli/main.ts'), `the hook saw the modules: ${modules.join(', ')}`);
      assert.deepEqual(componentModules(modules), [], args.join(' '));
      assert.deepEqual(
        modules.filter((m) => m.startsWith('node_modules/') || m.startsWith('pipeline/config/load') || m.startsWith('pipeline/service')),
        [],
        args.join(' '),
      );
    }
  });

  it('validate loads the configuration schemas of the components its configuration uses, and no others', async () => {
    const config = join(dir, 'replay.yaml');
    await writeFile(
      config,
      `receivers: { replay: { path: ${join(root, 'pipeline/config/testdata/flows.jsonl')} } }
exporters: { flowlog: { path: ${join(dir, 'out.jsonl')} } }
service: { pipelines: { flows: { receivers: [replay], exporters: [flowlog] } } }
`,
    );
    const { code, modules } = await modulesLoaded('validate', ['validate', '--config', config]);
    assert.equal(code, 0);
    const components = new Set(componentModules(modules).map((m) => m.split('/').slice(0, 2).join('/')));
    assert.deepEqual([...components].toSorted(), ['exporters/flowlog', 'receivers/replay']);
    assert.ok(!modules.includes('receivers/replay/receiver.ts') && modules.includes('receivers/replay/config.ts'), 'the schema, not the implementation');
    for (const heavy of ['node_modules/@kubernetes/client-node', 'node_modules/@grpc/grpc-js', 'node_modules/@opentelemetry/exporter-metrics-otlp-grpc']) {
      assert.ok(!modules.includes(heavy), `${heavy} loaded`);
    }
  });
});
