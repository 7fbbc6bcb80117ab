/**
 * Fuzzing the configuration loader, seeded from the shipped configs
 * (config/*.yaml): random bytes, truncations and bit flips, deep nesting,
 * huge values, alias bombs and loops, YAML syntax and references dropped in
 * anywhere, other encodings. Every mutant must load or be refused with a
 * ConfigError whose every problem names the file and says what is wrong: no
 * crash, no hang, bounded memory.
 *
 * Most mutants go through the real loader with every built-in factory in a
 * worker thread (its heap bounded by resourceLimits, ended if one file takes
 * longer than HANG_MS); some through `bin/zonetap validate` (heap bounded by
 * --max-old-space-size, killed after HANG_MS), which must exit 0 or 2.
 * Bounded in count and time; ZT_FUZZ_SEED replays another sequence, and a
 * failing mutant is kept on disk with its seed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SeededRandom, byteMutations, fuzzSeed } from './support/fuzz.ts';
import { REPO, run, ZONETAP } from './support/processes.ts';
import type { FuzzOutcome } from './testdata/config-fuzz-worker.ts';

const SEED = fuzzSeed(20261130);
const IN_PROCESS = 400;
const THROUGH_CLI = 12;
/** A file that takes longer than this is a hang: far past the worst a 4 MiB file takes on a loaded machine. */
const HANG_MS = 60_000;
/** Heap bound of the loader, in MB. */
const HEAP_MB = 512;

/** Mutants are cut to this size: past the loader's 4 MiB limit, short of what the test itself could not build. */
const MAX_MUTANT_BYTES = 5 * 1024 * 1024;

const CONFIG_DIR = join(REPO, 'config');
const SEEDS = readdirSync(CONFIG_DIR)
  .filter((f) => f.endsWith('.yaml') && !f.includes('inventory'))
  .map((f) => readFileSync(join(CONFIG_DIR, f)));
const work = mkdtempSync(join(tmpdir(), 'zt-fuzz-'));
/** The variables the shipped configs read, pointing at real files (as test/shipped-configs.test.ts sets them). */
const ENV: NodeJS.ProcessEnv = {
  NODE_NAME: 'node-a',
  POD_IP: '127.0.0.1',
  ZONETAP_OTLP_TOKEN: 'token',
  ZONETAP_OTLP_TOKEN_FILE: join(CONFIG_DIR, 'gateway.yaml'),
  ZONETAP_INVENTORY: join(CONFIG_DIR, 'inventory.example.yaml'),
  ZONETAP_NETNS: '/proc/self/ns/net',
  ZONETAP_GATEWAY: '127.0.0.1:4317',
  ZONETAP_INTERVAL: '5s',
  ZONETAP_TELEMETRY: '127.0.0.1:0',
  ZONETAP_PROMETHEUS: '127.0.0.1:9464',
  ZONETAP_FLOWLOG: join(work, 'flows.jsonl'),
  PROVIDER: 'gcp',
};

const text = (b: Buffer) => b.toString('latin1');
const bytes = (s: string) => Buffer.from(s, 'latin1');
/** A position at the start of a random line. */
const lineStart = (s: string, random: SeededRandom) => {
  const starts = [0, ...[...s.matchAll(/\n/g)].map((m) => m.index + 1)];
  return random.pick(starts);
};
const insertAt = (s: string, at: number, piece: string) => s.slice(0, at) + piece + s.slice(at);
/** A random scalar value written after `: ` in the text, as [start, end). */
function someValue(s: string, random: SeededRandom): [number, number] | undefined {
  const values = [...s.matchAll(/: ([^\s{}[\],#][^\n#,}\]]*)/g)];
  if (values.length === 0) return undefined;
  const m = random.pick(values);
  return [m.index + 2, m.index + m[0].length];
}

const BILLION_LAUGHS = 'x-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n' + 'bcdefghi'.split('').map((c, i) => `x-${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]\n`).join('');
const YAML_PIECES = ['&x ', '*x', '!!binary ', '!!js/function ', '? ', '<<: *x\n', '---\n', '...\n', '%YAML 1.1\n', '|\n', '>-\n', '"\\u0000"', "'", '"', '{', '}', '[', ']', ',', ': ', '- ', '#', '\t', '\r', '\u2028', '\uFEFF', '\0', 'null', '~', '.inf', '.nan', '0x1F', '1e400', '-0'];
const REFERENCES = ['${env:ZT_FUZZ_UNSET}', '${env:NODE_NAME}', '${env:ZONETAP_INTERVAL}', '$$', '${', '${env:}', '${file:/etc/passwd}', '$${env:X}'];

/** YAML-aware mutations of a configuration's text (bytes as latin1, so any byte survives). */
const yamlMutations: Record<string, (input: Buffer, random: SeededRandom) => Buffer> = {
  ...byteMutations,
  nesting(input, random) {
    const s = text(input);
    const value = someValue(s, random);
    const depth = random.pick([2, 10, 63, 64, 65, 100, 1000, 100_000]);
    const open = random.pick(['[', '{a: ', '- ']);
    const nested = open === '- ' ? `\n${Array.from({ length: Math.min(depth, 200) }, (_, i) => `${' '.repeat(i * 2)}- `).join('\n')}x` : open.repeat(depth) + 'x' + (open === '[' ? ']' : '}').repeat(depth);
    return bytes(value ? s.slice(0, value[0]) + nested + s.slice(value[1]) : nested + s);
  },
  hugeValue(input, random) {
    const s = text(input);
    const value = someValue(s, random);
    const huge = random.pick([() => 'x'.repeat(random.int(1_000, 2_000_000)), () => '9'.repeat(random.int(300, 100_000)), () => `"${'\\u00e9'.repeat(random.int(1, 200_000))}"`, () => `[${'1, '.repeat(random.int(1, 120_000))}1]`])();
    return bytes(value ? s.slice(0, value[0]) + huge + s.slice(value[1]) : s + huge);
  },
  manyLines(input, random) {
    const lines = text(input).split('\n');
    const from = random.int(0, lines.length - 1);
    const block = lines.slice(from, from + random.int(1, 5));
    const copies = Math.min(random.pick([2, 100, 10_000, 60_000]), Math.floor(MAX_MUTANT_BYTES / (block.join('\n').length + 1)));
    const repeated = Array.from({ length: copies }, () => block.join('\n')).join('\n');
    return bytes([...lines.slice(0, from), repeated, ...lines.slice(from)].join('\n'));
  },
  aliases(input, random) {
    const s = text(input);
    const value = someValue(s, random);
    const at = value?.[0] ?? 0;
    return bytes(
      random.pick([
        () => BILLION_LAUGHS + s,
        () => insertAt(s, at, '&loop '),
        () => insertAt(s, at, random.pick(['*loop ', '*undefined ', '*a '])),
        () => insertAt(s, lineStart(s, random), `receivers: &r { x: *r }\n`),
        () => insertAt(s, lineStart(s, random), '<<: [*a, *a, *a]\n'),
      ])(),
    );
  },
  yamlSyntax(input, random) {
    let s = text(input);
    for (let n = random.int(1, 4); n > 0; n--) s = insertAt(s, random.int(0, s.length), random.pick(YAML_PIECES));
    return bytes(s);
  },
  references(input, random) {
    const s = text(input);
    const value = someValue(s, random);
    return bytes(insertAt(s, value?.[0] ?? 0, random.pick(REFERENCES)));
  },
  encoding(input, random) {
    const s = input.toString('utf8');
    return random.pick([
      () => Buffer.from(`\uFEFF${s}`, 'utf16le'),
      () => Buffer.from(s, 'utf16le').swap16(),
      () => Buffer.concat([input, Buffer.from([0xc3])]),
      () => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), input]),
      () => Buffer.from(s.replace(/^( +)/gm, (m) => '\t'.repeat(m.length / 2)), 'utf8'),
    ])();
  },
  reorder(input, random) {
    const lines = text(input).split('\n');
    const [a, b] = [random.int(0, lines.length - 1), random.int(0, lines.length - 1)];
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    return bytes(lines.join('\n'));
  },
};

/** Mutant number `n`: a shipped config with one to three mutations. */
function mutant(random: SeededRandom): { name: string; content: Buffer } {
  let content: Buffer = random.pick(SEEDS);
  const applied: string[] = [];
  for (let k = random.int(1, 3); k > 0; k--) {
    const name = random.pick(Object.keys(yamlMutations));
    content = yamlMutations[name]!(content, random).subarray(0, MAX_MUTANT_BYTES);
    applied.push(name);
  }
  return { name: applied.join('+'), content };
}

/** Checks a refusal: a config error code, and every problem names the file, fits a line, and is no stack trace. */
function assertClearRefusal(file: string, code: string, lines: readonly string[], message: string, what: string): void {
  assert.match(code, /^ZT_CONFIG_(READ|INVALID)$/, what);
  assert.ok(lines.length > 0, `${what}: a refusal lists its problems`);
  for (const line of lines) {
    assert.ok(line.startsWith(file), `${what}: every problem names the file: ${line.slice(0, 300)}`);
    assert.ok(line.length <= 1200, `${what}: a problem fits a line (${line.length} characters)`);
  }
  assert.doesNotMatch(message, /\n\s+at |RangeError|TypeError|Maximum call stack/, what);
}

let failures = 0;
after(() => {
  // Failing mutants stay on disk for replaying; otherwise nothing is left behind.
  if (failures === 0) rmSync(work, { recursive: true, force: true });
});

/** Writes a mutant where a failure message can point at it. */
function writeMutant(n: number, content: Buffer): string {
  const file = join(work, `mutant-${n}.yaml`);
  writeFileSync(file, content);
  return file;
}

describe(`configuration fuzzing (seed ${SEED})`, () => {
  it(`${IN_PROCESS} mutants through the loader: loaded or refused clearly, none hangs past ${HANG_MS / 1000}s or takes more than ${HEAP_MB} MB of heap`, async (t) => {
    const random = new SeededRandom(SEED);
    const worker = new Worker(new URL('./testdata/config-fuzz-worker.ts', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: HEAP_MB } });
    const died = new Promise<never>((_, reject) => {
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the loader's worker exited (${code})`)));
    });
    const answer = () =>
      new Promise<FuzzOutcome>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer within ${HANG_MS} ms: a hang`)), HANG_MS);
        worker.once('message', (m: FuzzOutcome) => {
          clearTimeout(timer);
          resolve(m);
        });
        died.catch(reject);
      });
    const outcomes = new Map<string, number>();
    let slowest = { ms: 0, name: '' };
    try {
      await answer(); // the worker has loaded every factory
      for (let n = 0; n < IN_PROCESS; n++) {
        const { name, content } = mutant(random);
        const file = writeMutant(n, content);
        const what = `mutant ${n} (${name}) of seed ${SEED}, kept at ${file}`;
        const started = performance.now();
        worker.postMessage({ file, env: ENV });
        const got = await answer().catch((err: Error) => {
          failures++;
          assert.fail(`${what}: ${err.message}`);
        });
        const ms = performance.now() - started;
        if (ms > slowest.ms) slowest = { ms, name: `${name}, ${content.length} bytes` };
        if (got.outcome === 'crash') {
          failures++;
          assert.fail(`${what}: the loader crashed: ${got.error}`);
        }
        if (got.outcome === 'refused') assertClearRefusal(file, got.code, got.lines, got.message, what);
        outcomes.set(got.outcome === 'refused' ? got.code : 'valid', (outcomes.get(got.outcome === 'refused' ? got.code : 'valid') ?? 0) + 1);
        rmSync(file);
      }
    } finally {
      await worker.terminate();
    }
    t.diagnostic(`outcomes ${JSON.stringify(Object.fromEntries(outcomes))}; slowest ${Math.round(slowest.ms)} ms (${slowest.name})`);
    // The mutants reach every stage: some still load, some fail validation, some cannot be read.
    assert.ok((outcomes.get('valid') ?? 0) > 0 && (outcomes.get('ZT_CONFIG_INVALID') ?? 0) > 0 && (outcomes.get('ZT_CONFIG_READ') ?? 0) > 0, JSON.stringify([...outcomes]));
  });

  it(`${THROUGH_CLI} mutants through bin/zonetap validate: exit 0 or 2 with a clear message, within ${HANG_MS / 1000}s and ${HEAP_MB} MB of heap`, async () => {
    const random = new SeededRandom(SEED + 1);
    const env = { ...process.env, ...ENV, NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` };
    for (let n = 0; n < THROUGH_CLI; n++) {
      const { name, content } = mutant(random);
      const file = writeMutant(IN_PROCESS + n, content);
      const what = `CLI mutant ${n} (${name}) of seed ${SEED + 1}, kept at ${file}`;
      const r = await run(ZONETAP, ['validate', '--config', file], { cwd: REPO, env, timeoutMs: HANG_MS });
      if (r.code === 0) {
        assert.equal(r.stdout, 'configuration is valid\n', what);
      } else {
        if (r.code !== 2) failures++;
        assert.equal(r.code, 2, `${what}: exit ${r.code} (-1: killed after ${HANG_MS} ms)\n${r.stderr.slice(0, 2000)}`);
        const [head = '', ...problems] = r.stderr.trimEnd().split('\n');
        const code = /^zonetap: (ZT_CONFIG_\w+): configuration (is invalid|could not be read) \(\d+ problems?\):$/.exec(head)?.[1] ?? head;
        const lines = problems.filter((l) => !/^ {2}\.\.\. and \d+ more problems$/.test(l)).map((l) => l.replace(/^ {2}/, ''));
        assertClearRefusal(file, code, lines, r.stderr, what);
      }
      rmSync(file);
    }
  });
});
