/**
 * Every zonetap configuration written in a README (a ```yaml block whose keys
 * are receivers, processors, exporters, service) passes `zonetap validate`
 * as a reader would run it, under the environment stated here. A block that
 * shows one section only is completed the least a reader would: a `replay`
 * receiver or a `flowlog` exporter where the block has none, `{}` for
 * components its pipeline names but does not define, and one pipeline of
 * everything when it has none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO, ZONETAP, run } from './support/processes.ts';

/** The README and the READMEs of the core and of every component. */
function readmes(): string[] {
  const components = ['receivers', 'processors', 'exporters'].flatMap((kind) => readdirSync(join(REPO, kind)).map((name) => join(kind, name, 'README.md')));
  return ['README.md', 'pipeline/README.md', ...components.filter((f) => existsSync(join(REPO, f)))];
}

const SECTIONS = new Set(['receivers', 'processors', 'exporters', 'service']);
type Config = Record<string, Record<string, unknown> | undefined>;

/** The configuration blocks of a Markdown file, with their line numbers. */
function configBlocks(file: string): Array<{ line: number; text: string }> {
  const markdown = readFileSync(join(REPO, file), 'utf8');
  const blocks: Array<{ line: number; text: string }> = [];
  for (const m of markdown.matchAll(/```ya?ml\n([\s\S]*?)```/g)) {
    const doc: unknown = parse(m[1]!);
    if (doc && typeof doc === 'object' && Object.keys(doc).every((k) => SECTIONS.has(k))) blocks.push({ line: markdown.slice(0, m.index).split('\n').length, text: m[1]! });
  }
  return blocks;
}

/** A block as a whole config: what a reader adds to a fragment to run it. */
function completed(text: string, workdir: string): string {
  const config = parse(text) as Config;
  config.receivers ??= { replay: { path: join(workdir, 'flows.jsonl') } };
  config.processors ??= {};
  config.exporters ??= { flowlog: { path: join(workdir, 'out.jsonl') } };
  const service = (config.service ??= {}) as { pipelines?: Record<string, Record<string, string[]>> };
  service.pipelines ??= { flows: { receivers: Object.keys(config.receivers), processors: Object.keys(config.processors), exporters: Object.keys(config.exporters) } };
  for (const pipeline of Object.values(service.pipelines)) {
    for (const kind of ['receivers', 'processors', 'exporters'] as const) for (const id of pipeline[kind] ?? []) config[kind]![id] ??= {};
  }
  return stringify(config);
}

/**
 * The environment the examples are validated in, as a reader on a node would have it: the
 * variables they read, and the files they name (certificates, a token, a log directory) at the
 * paths they name them, which the test writes into its own directory instead of /etc and /var.
 */
const ENV = { NODE_NAME: 'node-a', POD_NAME: 'db-0', POD_NAMESPACE: 'shop', ZONETAP_TOKEN: 'token' };
const EXAMPLE_FILES = ['/etc/zonetap/gateway-ca.pem', '/etc/zonetap/tls.crt', '/etc/zonetap/tls.key', '/etc/zonetap/token'];
const EXAMPLE_DIRS = ['/var/log/zonetap'];
/** Provider range files the examples name: validate reads them, so they are the shipped fixtures in each real format. */
const EXAMPLE_RANGE_FILES: Record<string, string> = {
  '/etc/zonetap/ip-ranges.json': 'processors/k8sattributes/testdata/aws-ip-ranges.json',
  '/etc/zonetap/cloud.json': 'processors/k8sattributes/testdata/gcp-cloud.json',
  '/etc/zonetap/ServiceTags_Public.json': 'processors/k8sattributes/testdata/azure-service-tags.json',
};

test('every configuration in a README passes zonetap validate', async (t) => {
  const workdir = mkdtempSync(join(tmpdir(), 'zt-readme-configs-'));
  t.after(() => rmSync(workdir, { recursive: true, force: true }));
  // The working directory holds a flow log (pipeline/README.md's `flows.jsonl`) and the checkout's config/.
  writeFileSync(join(workdir, 'flows.jsonl'), readFileSync(join(REPO, 'config', 'quickstart-flows.jsonl')));
  symlinkSync(join(REPO, 'config'), join(workdir, 'config'));
  const moved = (path: string) => join(workdir, 'root', path);
  for (const f of EXAMPLE_FILES) {
    mkdirSync(join(moved(f), '..'), { recursive: true });
    writeFileSync(moved(f), 'example\n');
  }
  for (const d of EXAMPLE_DIRS) mkdirSync(moved(d), { recursive: true });
  for (const [f, fixture] of Object.entries(EXAMPLE_RANGE_FILES)) {
    mkdirSync(join(moved(f), '..'), { recursive: true });
    writeFileSync(moved(f), readFileSync(join(REPO, fixture)));
  }

  const examples = readmes().flatMap((file) => configBlocks(file).map((block) => ({ file, ...block })));
  const validate = async ({ file, line, text: written }: (typeof examples)[number]) => {
    let text = completed(written, workdir);
    for (const path of [...EXAMPLE_FILES, ...Object.keys(EXAMPLE_RANGE_FILES), ...EXAMPLE_DIRS]) text = text.replaceAll(path, moved(path));
    const config = join(workdir, `${file.replaceAll('/', '_')}-${line}.yaml`);
    writeFileSync(config, text);
    const r = await run(ZONETAP, ['validate', '--config', config], { cwd: workdir, env: { PATH: process.env.PATH, ...ENV } });
    assert.equal(r.code, 0, `${file}:${line}: the example fails validation:\n${r.stderr}\n${text}`);
  };
  // Three at a time: each is a Node.js process that loads every component.
  for (let i = 0; i < examples.length; i += 3) await Promise.all(examples.slice(i, i + 3).map(validate));
  const checked = examples.length;
  assert.ok(checked >= 14, `only ${checked} examples found: the test lost track of them`);
});

test('the README says how to set NODE_NAME, without which its first example is refused', async (t) => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const [first] = configBlocks('README.md');
  assert.ok(first && first.text.includes('${env:NODE_NAME}'));
  assert.match(readme, /NODE_NAME=\$\(hostname\) zonetap validate --config FILE/);
  const workdir = mkdtempSync(join(tmpdir(), 'zt-readme-configs-'));
  t.after(() => rmSync(workdir, { recursive: true, force: true }));
  const config = join(workdir, 'first.yaml');
  writeFileSync(config, first.text);
  const r = await run(ZONETAP, ['validate', '--config', config], { env: { PATH: process.env.PATH } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /environment variable "NODE_NAME" is not set/);
});
