/**
 * Configuration loading and validation, against small factories shaped like the
 * real ones (test/support/config-factories.ts) so these tests do not depend on every component.
 * Each broken config in testdata/ asserts its exact messages, line:column included.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ZonetapError } from '../errors.ts';
import { loadConfig } from './load.ts';
import { ConfigError, editDistance, nearest, shorten, suggestion } from './problems.ts';
import { testRegistry } from '../../test/support/config-factories.ts';

// Paths in testdata (replay's `path`) and in messages are relative to the repository root.
process.chdir(fileURLToPath(new URL('../..', import.meta.url)));
const data = (name: string) => `pipeline/config/testdata/${name}`;
let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'zt-config-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function problemsOf(files: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: string; lines: readonly string[] }> {
  try {
    await loadConfig(files, testRegistry(), { env });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.ok(err instanceof ZonetapError);
    return { code: err.code, lines: err.lines };
  }
  assert.fail(`${files.join(', ')} loaded without errors`);
}

const BROKEN: Array<{ file: string; code?: 'ZT_CONFIG_READ'; lines: string[] }> = [
  { file: 'typo-key.yaml', lines: ['typo-key.yaml:4:5: receivers::replay::intervl: unknown key "intervl"; did you mean "interval"?'] },
  { file: 'wrong-type.yaml', lines: ['wrong-type.yaml:4:5: receivers::replay::loop: expected true or false, got string "yes"'] },
  {
    file: 'bad-duration.yaml',
    lines: ['bad-duration.yaml:4:5: receivers::replay::interval: invalid duration "10 seconds": expected a positive number with a unit (ms, s, m, h), like 10s'],
  },
  {
    file: 'too-long-duration.yaml',
    lines: ['too-long-duration.yaml:4:5: receivers::replay::interval: duration "1000h" is too long: at most 596h (24 days)'],
  },
  { file: 'unknown-type.yaml', lines: ['unknown-type.yaml:5:3: processors::costs: unknown processor type "costs"; did you mean "cost"?'] },
  {
    file: 'wrong-section.yaml',
    lines: ['wrong-section.yaml:5:3: processors::flowlog: unknown processor type "flowlog"; "flowlog" is an exporter: move it under exporters'],
  },
  {
    file: 'undefined-reference.yaml',
    lines: [
      'undefined-reference.yaml:11:28: service::pipelines::flows::exporters::1: references exporter "prometheus/locl", which is not defined under exporters; did you mean "prometheus/local"?',
    ],
  },
  { file: 'missing-env.yaml', lines: ['missing-env.yaml:6:11: exporters::flowlog::path: environment variable "ZONETAP_TEST_UNSET_DIR" is not set'] },
  { file: 'duplicate-in-pipeline.yaml', lines: ['duplicate-in-pipeline.yaml:14:11: service::pipelines::flows::processors::1: "cost" is listed twice in this pipeline'] },
  {
    file: 'empty-pipeline.yaml',
    lines: ['empty-pipeline.yaml:11:5: service::pipelines::flows/spare: pipeline is empty: it needs at least one receiver and one exporter'],
  },
  { file: 'no-exporters.yaml', lines: ['no-exporters.yaml:8:5: service::pipelines::flows::exporters: a pipeline needs at least one exporter'] },
  {
    file: 'bad-endpoint.yaml',
    lines: ['bad-endpoint.yaml:6:5: exporters::prometheus::endpoint: invalid endpoint "localhost": expected host:port, like 127.0.0.1:9464 or [::1]:4317'],
  },
  {
    file: 'bad-cidr.yaml',
    lines: ['bad-cidr.yaml:8:9: processors::crosszone::internal_cidrs::1: invalid CIDR "10.0.0.0/33": expected address/prefix, like 10.0.0.0/8 or fd00::/8'],
  },
  {
    file: 'bad-pipeline-name.yaml',
    lines: ['bad-pipeline-name.yaml:8:5: service::pipelines::metrics: invalid pipeline name "metrics": expected flows or flows/<name> (zonetap has one signal, flows)'],
  },
  {
    file: 'not-a-map.yaml',
    lines: ['not-a-map.yaml:1:1: expected a map with receivers, processors, exporters and service at the top level, got a sequence'],
  },
  {
    file: 'yaml-syntax.yaml',
    code: 'ZT_CONFIG_READ',
    lines: ['yaml-syntax.yaml:6:1: invalid YAML: flow map in block collection must be sufficiently indented and end with a }'],
  },
  { file: 'duplicate-yaml-key.yaml', code: 'ZT_CONFIG_READ', lines: ['duplicate-yaml-key.yaml:6:1: invalid YAML: duplicate key: YAML map keys must be unique'] },
  { file: 'invalid-option.yaml', lines: ['invalid-option.yaml:6:5: processors::cost::provider: invalid option "gpc": expected one of gcp|aws|azure|custom'] },
  {
    file: 'bad-component-id.yaml',
    lines: [
      'bad-component-id.yaml:2:3: receivers::replay/: invalid component ID "replay/": expected type or type/name, like otlp or otlp/gateway',
      'bad-component-id.yaml:9:19: service::pipelines::flows::receivers::0: references receiver "replay", which is not defined under receivers; no receivers are defined',
    ],
  },
  {
    file: 'bad-telemetry.yaml',
    lines: [
      'bad-telemetry.yaml:13:7: service::telemetry::metrics::endpoint: expected an endpoint like 127.0.0.1:8888, or none, got number 8888',
      'bad-telemetry.yaml:15:7: service::telemetry::logs::level: invalid option "verbose": expected one of trace|debug|info|warn|error|fatal|silent',
    ],
  },
  { file: 'empty.yaml', lines: ['empty.yaml: service: missing required section: add service::pipelines::flows with receivers and exporters'] },
  { file: 'missing-service.yaml', lines: ['missing-service.yaml:1:1: service: missing required section: add service::pipelines::flows with receivers and exporters'] },
  { file: 'missing-required-key.yaml', lines: ['missing-required-key.yaml:2:3: receivers::replay::path: missing required key (expected a file path)'] },
  {
    file: 'missing-file.yaml',
    lines: ['missing-file.yaml:3:5: receivers::replay::path: file "pipeline/config/testdata/no-such-flows.jsonl" does not exist'],
  },
  { file: 'too-small.yaml', lines: ['too-small.yaml:6:5: exporters::prometheus::max_series: number 0 must be at least 1'] },
  {
    file: 'unknown-top-level.yaml',
    lines: [
      'unknown-top-level.yaml:1:1: recievers: unknown key "recievers"; did you mean "receivers"?',
      'unknown-top-level.yaml:9:19: service::pipelines::flows::receivers::0: references receiver "replay", which is not defined under receivers; no receivers are defined',
    ],
  },
  {
    file: 'alias-bomb.yaml',
    code: 'ZT_CONFIG_READ',
    lines: ['alias-bomb.yaml:11:10: alias "*e" repeats 66430 values: a configuration holds at most 100000, aliases expanded'],
  },
  { file: 'alias-loop.yaml', code: 'ZT_CONFIG_READ', lines: ['alias-loop.yaml:4:9: alias "*r" is inside the value it names, which would never end'] },
  { file: 'alias-undefined.yaml', code: 'ZT_CONFIG_READ', lines: ['alias-undefined.yaml:4:15: alias "*every_second" names no anchor "&every_second" written before it'] },
  { file: 'alias-deep.yaml', code: 'ZT_CONFIG_READ', lines: ['alias-deep.yaml:65:14: nested deeper than 64 levels: a zonetap configuration needs a handful'] },
  { file: 'too-deep.yaml', code: 'ZT_CONFIG_READ', lines: ['too-deep.yaml:3:74: nested deeper than 64 levels: a zonetap configuration needs a handful'] },
  { file: 'not-utf8.yaml', code: 'ZT_CONFIG_READ', lines: ['not-utf8.yaml:3:38: byte 0xF6 is not UTF-8: a configuration file must be UTF-8 text'] },
  { file: 'utf16.yaml', code: 'ZT_CONFIG_READ', lines: ['utf16.yaml: the file is UTF-16LE text; zonetap reads UTF-8 only: convert it, e.g. iconv -f UTF-16LE -t UTF-8'] },
  {
    file: 'anchors-broken.yaml',
    lines: ['anchors-broken.yaml:10:5: receivers::replay/c::interval: invalid duration "never": expected a positive number with a unit (ms, s, m, h), like 10s'],
  },
  {
    file: 'many-errors.yaml',
    lines: [
      'many-errors.yaml:4:5: receivers::replay::interval: invalid duration "soon": expected a positive number with a unit (ms, s, m, h), like 10s',
      'many-errors.yaml:7:5: processors::cost::provider: invalid option "gpc": expected one of gcp|aws|azure|custom',
      'many-errors.yaml:9:7: processors::cost::prices::cross_zone: expected a number, got string "cheap"',
      'many-errors.yaml:12:5: exporters::flowlog::pth: unknown key "pth"; did you mean "path"?',
      'many-errors.yaml:13:3: exporters::unused/one: unknown exporter type "unused"; valid exporter types: flowlog, prometheus',
      'many-errors.yaml:17:27: service::pipelines::flows::receivers::1: references receiver "otlp", which is not defined under receivers; valid receivers: replay',
    ],
  },
];

describe('broken configurations: every problem, with file:line:column', () => {
  assert.ok(BROKEN.length >= 15);
  for (const { file, code, lines } of BROKEN) {
    it(file, async () => {
      const got = await problemsOf([data(file)]);
      assert.equal(got.code, code ?? 'ZT_CONFIG_INVALID');
      assert.deepEqual(got.lines, lines.map((l) => `pipeline/config/testdata/${l}`));
    });
  }

  it('a file that does not exist', async () => {
    const got = await problemsOf([data('valid.yaml'), data('no-such-config.yaml')]);
    assert.equal(got.code, 'ZT_CONFIG_READ');
    assert.deepEqual(got.lines, ['pipeline/config/testdata/no-such-config.yaml: cannot read configuration file: no such file']);
  });

  it('a file larger than 4 MiB: /dev/zero is refused after 4 MiB', async () => {
    const got = await problemsOf(['/dev/zero']);
    assert.deepEqual(got, { code: 'ZT_CONFIG_READ', lines: ['/dev/zero: configuration file is larger than 4 MiB, the most zonetap reads'] });
  });

  it('more than 100000 values: refused while parsing, at the value past the limit', async () => {
    const file = join(scratch, 'many-values.yaml');
    await writeFile(file, `receivers: [${'[], '.repeat(100_001)}]\n`);
    // `receivers` and the outer list are values 1 and 2; the 99,999th `[]` is value 100,001, at column 13 + 4 * 99,998.
    assert.deepEqual(await problemsOf([file]), {
      code: 'ZT_CONFIG_READ',
      lines: [`${file}:1:400005: more than 100000 values (keys, values and list items): a zonetap configuration needs a few hundred`],
    });
  });

  it('a byte-order mark is not an error; a genuine U+FFFD is not taken for a bad byte', async () => {
    const file = join(scratch, 'bom.yaml');
    const valid = await readFile(data('valid.yaml'), 'utf8');
    await writeFile(file, `\uFEFF# \uFFFD\n${valid}\n# \xFF`.replace('# \xFF', '# ok'));
    await loadConfig([file], testRegistry());
    await writeFile(file, Buffer.concat([Buffer.from(`\uFEFF# \uFFFD\n${valid}# `), Buffer.from([0xc3, 0x28])]));
    const lines = valid.split('\n').length;
    assert.deepEqual((await problemsOf([file])).lines, [`${file}:${lines + 1}:3: byte 0xC3 is not UTF-8: a configuration file must be UTF-8 text`]);
  });

  it('no file at all', async () => {
    const got = await problemsOf([]);
    assert.deepEqual(got.lines, ['no configuration file given: pass --config FILE']);
  });

  it('the error message lists every problem, and the code is stable', async () => {
    try {
      await loadConfig([data('bad-telemetry.yaml')], testRegistry());
      assert.fail('loaded');
    } catch (err) {
      assert.ok(err instanceof ZonetapError);
      assert.equal(err.code, 'ZT_CONFIG_INVALID');
      assert.equal(
        err.message,
        'configuration is invalid (2 problems):\n' +
          '  pipeline/config/testdata/bad-telemetry.yaml:13:7: service::telemetry::metrics::endpoint: expected an endpoint like 127.0.0.1:8888, or none, got number 8888\n' +
          '  pipeline/config/testdata/bad-telemetry.yaml:15:7: service::telemetry::logs::level: invalid option "verbose": expected one of trace|debug|info|warn|error|fatal|silent',
      );
    }
  });
});

describe('several files', () => {
  it('a later file overrides keys of an earlier one, and its problems point into it', async () => {
    const got = await problemsOf([data('override-base.yaml'), data('override-bad.yaml')]);
    assert.deepEqual(got.lines, [
      'pipeline/config/testdata/override-bad.yaml:4:5: receivers::replay::interval: invalid duration "fast": expected a positive number with a unit (ms, s, m, h), like 10s',
    ]);
  });

  it('merges maps deeply, replaces lists, substitutes ${env:NAME} (typed when the whole value) and keeps $$ literal', async () => {
    const config = await loadConfig([data('override-base.yaml'), data('override-good.yaml')], testRegistry(), {
      env: { ZONETAP_TEST_LOOP: 'true', ZONETAP_TEST_DIR: '/var/zt' },
    });
    assert.deepEqual(config.receivers.get('replay')?.config, { path: 'pipeline/config/testdata/flows.jsonl', interval: 5000, loop: true });
    assert.deepEqual(config.exporters.get('flowlog')?.config, { path: '/var/zt/out-${HOME}.jsonl' });
    assert.deepEqual([...config.pipelines.keys()], ['flows', 'flows/metrics']);
    assert.deepEqual(config.pipelines.get('flows/metrics'), { id: 'flows/metrics', receivers: ['replay'], processors: [], exporters: ['prometheus'] });
    assert.deepEqual(config.telemetry, { metricsEndpoint: null, logLevel: 'debug', logEncoding: 'json' });
    assert.deepEqual(config.files, [data('override-base.yaml'), data('override-good.yaml')]);
  });
});

describe('a valid configuration', () => {
  it('takes [address]:port for either family, so "[${env:POD_IP}]:port" binds to the pod IP', async () => {
    for (const [ip, normalized] of [['10.1.2.3', '10.1.2.3:9464'], ['fd00::7', '[fd00::7]:9464']]) {
      const config = await loadConfig([data('pod-ip-endpoints.yaml')], testRegistry(), { env: { POD_IP: ip } });
      assert.equal((config.exporters.get('prometheus')?.config as { endpoint: string }).endpoint, normalized);
      assert.equal(config.telemetry.metricsEndpoint, `[${ip}]:8888`);
    }
    const bad = await problemsOf([data('pod-ip-endpoints.yaml')], { POD_IP: 'node-a' });
    assert.match(bad.lines.join('\n'), /exporters::prometheus::endpoint: invalid endpoint "\[node-a\]:9464"/);
  });

  it('has defaults applied, frozen, and unused components only warned about', async () => {
    const config = await loadConfig([data('valid.yaml')], testRegistry());
    assert.deepEqual(config.processors.get('cost')?.config, { provider: 'aws', prices: {} });
    assert.deepEqual(config.exporters.get('prometheus')?.config, { endpoint: '127.0.0.1:9464', max_series: 10000 });
    assert.ok(Object.isFrozen(config.processors.get('cost')?.config));
    assert.deepEqual(config.telemetry, { metricsEndpoint: '127.0.0.1:8888', logLevel: 'info', logEncoding: 'json' });
    assert.deepEqual(config.warnings, []);

    const many = await problemsOf([data('many-errors.yaml')]);
    assert.equal(many.lines.length, 6);
  });

  it('warns about a component no pipeline uses', async () => {
    const config = await loadConfig([data('valid.yaml'), data('unused.yaml')], testRegistry());
    assert.deepEqual(config.warnings, ['pipeline/config/testdata/unused.yaml:3:3: processors::crosszone: not used by any pipeline']);
  });
});

describe('YAML anchors and merge keys', () => {
  it('merge in values; keys written in the map win', async () => {
    const config = await loadConfig([data('anchors.yaml')], testRegistry());
    const path = 'pipeline/config/testdata/flows.jsonl';
    assert.deepEqual(config.receivers.get('replay/a')?.config, { path, interval: 3000, loop: true });
    assert.deepEqual(config.receivers.get('replay/b')?.config, { path, interval: 4000, loop: true });
    assert.deepEqual(config.receivers.get('replay/c')?.config, { path, interval: 5000, loop: true });
  });
});

describe('messages stay readable whatever the input', () => {
  it('a long quoted value is shortened, saying how long it was; a long line keeps its start and end', () => {
    const value = 'x'.repeat(3000);
    assert.equal(shorten(`invalid duration "${value}": expected 10s`), `invalid duration "${'x'.repeat(60)}...${'x'.repeat(20)}" (3000 characters): expected 10s`);
    const line = shorten(`a::${'k'.repeat(5000)}: unknown key`);
    assert.ok(line.length < 1000 && line.startsWith('a::kkk') && line.endsWith('kkk: unknown key') && line.includes('characters left out'), line);
  });

  it('lists at most 12 valid names, and the message at most 100 problems', () => {
    const names = Array.from({ length: 30 }, (_, i) => `replay/r${String(i).padStart(2, '0')}`);
    assert.equal(suggestion('zzzzzz', names, 'receivers'), `; valid receivers: ${names.slice(0, 12).join(', ')}, ... (30 in all)`);
    const error = new ConfigError('ZT_CONFIG_INVALID', Array.from({ length: 150 }, (_, i) => ({ path: ['x'], file: 'f.yaml', message: `problem ${i}` })));
    assert.equal(error.lines.length, 150);
    const listed = error.message.split('\n');
    assert.equal(listed[0], 'configuration is invalid (150 problems):');
    assert.equal(listed.length, 1 + 100 + 1);
    assert.equal(listed.at(-1), '  ... and 50 more problems');
  });
});

describe('nearest valid name', () => {
  it('edit distance and plausible typos only', () => {
    assert.equal(editDistance('intervl', 'interval'), 1);
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(nearest('recievers', ['receivers', 'processors', 'exporters', 'service']), 'receivers');
    assert.equal(nearest('zzzzzz', ['receivers', 'service']), undefined);
  });
});
