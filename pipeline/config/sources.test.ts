/**
 * Configuration sources as the Collector's confmap has them: file:, env: and
 * yaml: URIs, --set, ${env:NAME:-default} and ${file:PATH}, merged in order
 * (later wins, --set last), with problems that name the source (line:column
 * for files and environment variables).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ZonetapError } from '../errors.ts';
import { testRegistry } from '../../test/support/config-factories.ts';
import { loadConfig } from './load.ts';
import { ConfigError } from './problems.ts';
import { setSource } from './sources.ts';
import type { ConfigSource } from './sources.ts';

process.chdir(fileURLToPath(new URL('../..', import.meta.url)));
const VALID = 'pipeline/config/testdata/valid.yaml';
let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'zt-sources-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function scratchFile(name: string, text: string): Promise<string> {
  const file = join(scratch, name);
  await writeFile(file, text);
  return file;
}

const load = (sources: ConfigSource[], env: NodeJS.ProcessEnv = {}) => loadConfig(sources, testRegistry(), { env });

async function problems(sources: ConfigSource[], env: NodeJS.ProcessEnv = {}): Promise<{ code: string; lines: readonly string[] }> {
  try {
    await load(sources, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return { code: err.code, lines: err.lines };
  }
  assert.fail('loaded without errors');
}

const settingsOf = async (sources: ConfigSource[], kind: 'exporters' | 'receivers' | 'processors', id: string, env: NodeJS.ProcessEnv = {}) =>
  (await load(sources, env))[kind].get(id)!.config as Record<string, unknown>;

describe('configuration sources', () => {
  it('reads a plain path and file:PATH alike, and names the source as given', async () => {
    const plain = await load([VALID]);
    const uri = await load([`file:${VALID}`]);
    assert.deepEqual(uri.exporters.get('prometheus')!.config, plain.exporters.get('prometheus')!.config);
    assert.deepEqual(uri.files, [`file:${VALID}`]);
  });

  it('env:NAME reads YAML from the variable, with line:column inside it', async () => {
    const env = { OVERRIDE: 'exporters:\n  prometheus:\n    endpoint: 0.0.0.0:9999\n' };
    assert.equal((await settingsOf([VALID, 'env:OVERRIDE'], 'exporters', 'prometheus', env)).endpoint, '0.0.0.0:9999');
    assert.deepEqual(await problems([VALID, 'env:OVERRIDE'], { OVERRIDE: 'exporters:\n  prometheus:\n    endpoint: nowhere\n' }), {
      code: 'ZT_CONFIG_INVALID',
      lines: ['env:OVERRIDE:3:5: exporters::prometheus::endpoint: invalid endpoint "nowhere": expected host:port, like 127.0.0.1:9464 or [::1]:4317'],
    });
    assert.deepEqual(await problems([VALID, 'env:UNSET_CONFIG']), { code: 'ZT_CONFIG_READ', lines: ['env:UNSET_CONFIG: environment variable "UNSET_CONFIG" is not set'] });
  });

  it('yaml: nests :: keys and names itself in problems, without line:column', async () => {
    const uri = 'yaml:exporters::prometheus::endpoint: 0.0.0.0:9999';
    assert.equal((await settingsOf([VALID, uri], 'exporters', 'prometheus')).endpoint, '0.0.0.0:9999');
    // Keys written apart under one parent merge.
    const both = await load([VALID, 'yaml:{processors::cost::provider: gcp, processors::cost::prices::internet: 0.1}']);
    assert.deepEqual(both.processors.get('cost')!.config, { provider: 'gcp', prices: { internet: 0.1 } });
    const bad = 'yaml:exporters::prometheus::max_series: lots';
    assert.deepEqual(await problems([VALID, bad]), { code: 'ZT_CONFIG_INVALID', lines: [`${bad}: exporters::prometheus::max_series: expected a number, got string "lots"`] });
    assert.deepEqual(await problems([VALID, 'yaml:a: [']), { code: 'ZT_CONFIG_READ', lines: ['yaml:a: [: invalid YAML: flow sequence in block collection must be sufficiently indented and end with a ]'] });
  });

  it('an unknown scheme is named with what to use instead', async () => {
    assert.deepEqual(await problems(['https://example.com/zonetap.yaml']), {
      code: 'ZT_CONFIG_READ',
      lines: ['https://example.com/zonetap.yaml: unsupported configuration URI scheme "https:": use file:, env:, yaml: or a plain path (./https://example.com/zonetap.yaml for a file)'],
    });
  });

  it('--set reads its value as YAML under the key path, and names itself in problems', async () => {
    assert.equal((await settingsOf([VALID, setSource('exporters::prometheus::max_series=5')], 'exporters', 'prometheus')).max_series, 5);
    assert.deepEqual((await settingsOf([VALID, setSource('processors::crosszone::keep=[internet, cross_zone]')], 'processors', 'cost')).provider, 'aws');
    const keep = await load([VALID, setSource('processors::crosszone::keep=[internet, cross_zone]'), setSource('service::pipelines::flows::processors=[crosszone]')]);
    assert.deepEqual((keep.processors.get('crosszone')!.config as { keep: string[] }).keep, ['internet', 'cross_zone']);
    // A value holding "=" keeps it.
    assert.equal((await settingsOf([VALID, setSource('exporters::flowlog::path=/tmp/a=b.jsonl')], 'exporters', 'flowlog')).path, '/tmp/a=b.jsonl');
    assert.deepEqual(await problems([VALID, setSource('exporters::prometheus::max_series=0')]), {
      code: 'ZT_CONFIG_INVALID',
      lines: ['--set exporters::prometheus::max_series=0: exporters::prometheus::max_series: number 0 must be at least 1'],
    });
    assert.deepEqual(await problems([VALID, setSource('exporters::flowlog::path=${env:NOPE}')]), {
      code: 'ZT_CONFIG_INVALID',
      lines: ['--set exporters::flowlog::path=${env:NOPE}: exporters::flowlog::path: environment variable "NOPE" is not set'],
    });
  });

  it('a malformed --set is a usage error naming the argument', () => {
    const cases: Array<[string, string]> = [
      ['exporters::prometheus::endpoint', 'no "="'],
      ['=0.0.0.0:9464', 'the key is empty'],
      ['exporters::::endpoint=x', 'the key has an empty part between "::"'],
      ['exporters::prometheus::=x', 'the key has an empty part between "::"'],
    ];
    for (const [argument, why] of cases) {
      assert.throws(
        () => setSource(argument),
        (err: unknown) =>
          err instanceof ZonetapError &&
          err.code === 'ZT_USAGE' &&
          err.message === `invalid --set "${argument}": ${why}; expected KEY::PATH=VALUE, like exporters::prometheus::endpoint=0.0.0.0:9464`,
      );
    }
  });

  it('precedence: sources merge in order, later ones win, whatever their kind', async () => {
    const second = await scratchFile('second.yaml', 'exporters:\n  prometheus:\n    endpoint: 127.0.0.2:1\n');
    const env = { THIRD: 'exporters: { prometheus: { endpoint: "127.0.0.3:1" } }' };
    const endpointOf = async (sources: ConfigSource[]) => (await settingsOf(sources, 'exporters', 'prometheus', env)).endpoint;
    assert.equal(await endpointOf([VALID, second]), '127.0.0.2:1');
    assert.equal(await endpointOf([VALID, second, 'env:THIRD']), '127.0.0.3:1');
    assert.equal(await endpointOf([VALID, 'env:THIRD', second]), '127.0.0.2:1');
    assert.equal(await endpointOf([VALID, second, 'env:THIRD', 'yaml:exporters::prometheus::endpoint: 127.0.0.4:1']), '127.0.0.4:1');
    assert.equal(await endpointOf([VALID, 'yaml:exporters::prometheus::endpoint: 127.0.0.4:1', setSource('exporters::prometheus::endpoint=127.0.0.5:1')]), '127.0.0.5:1');
    // Maps merge key by key: the later source's endpoint leaves the earlier max_series.
    const merged = await settingsOf([VALID, setSource('exporters::prometheus::max_series=7'), second], 'exporters', 'prometheus', env);
    assert.deepEqual(merged, { endpoint: '127.0.0.2:1', max_series: 7 });
  });

  it('${env:NAME:-default}: the default when unset, the variable when set, even empty (as in the Collector)', async () => {
    const uri = 'yaml:exporters::prometheus::max_series: ${env:MAX:-42}';
    assert.equal((await settingsOf([VALID, uri], 'exporters', 'prometheus')).max_series, 42);
    assert.equal((await settingsOf([VALID, uri], 'exporters', 'prometheus', { MAX: '9' })).max_series, 9);
    const path = 'yaml:exporters::flowlog::path: "/var/log/${env:SUB:-zonetap}/flows.jsonl"';
    assert.equal((await settingsOf([VALID, path], 'exporters', 'flowlog')).path, '/var/log/zonetap/flows.jsonl');
    assert.equal((await settingsOf([VALID, path], 'exporters', 'flowlog', { SUB: '' })).path, '/var/log//flows.jsonl');
  });

  it('${file:PATH}: the file\'s text without its last newline, typed when the whole value, and a clear problem when unreadable', async () => {
    const count = await scratchFile('max-series', '12\n');
    const name = await scratchFile('dir-name', 'flows\n');
    const config = await scratchFile(
      'with-files.yaml',
      `exporters:\n  prometheus:\n    max_series: \${file:${count}}\n  flowlog:\n    path: /tmp/\${file:${name}}.jsonl\n`,
    );
    const loaded = await load([VALID, config]);
    assert.deepEqual(loaded.exporters.get('prometheus')!.config, { endpoint: '127.0.0.1:9464', max_series: 12 });
    assert.deepEqual(loaded.exporters.get('flowlog')!.config, { path: '/tmp/flows.jsonl' });
    const missing = join(scratch, 'missing');
    const broken = await scratchFile('broken.yaml', `exporters:\n  flowlog:\n    path: "x-\${file:${missing}}"\n`);
    assert.deepEqual(await problems([VALID, broken]), {
      code: 'ZT_CONFIG_INVALID',
      lines: [`${broken}:3:14: exporters::flowlog::path: cannot read file "${missing}": no such file`],
    });
  });

  it('any other ${...} is a problem that says what is supported', async () => {
    const file = await scratchFile('other.yaml', 'exporters:\n  flowlog:\n    path: ${HOME}/x\n');
    assert.deepEqual(await problems([VALID, file]), {
      code: 'ZT_CONFIG_INVALID',
      lines: [`${file}:3:11: exporters::flowlog::path: unsupported reference "\${HOME}": use \${env:NAME}, \${env:NAME:-default}, \${file:PATH}, or $$ for a literal $`],
    });
  });
});
