/**
 * Configuration sources, as the OpenTelemetry Collector's confmap names them:
 *
 * - a plain path, or `file:PATH`: a YAML file;
 * - `env:NAME`: YAML held by an environment variable;
 * - `yaml:TEXT`: YAML written on the command line, where `::` in a key
 *   nests (`yaml:exporters::prometheus::endpoint: 0.0.0.0:9999`);
 * - `{ set: 'KEY::PATH=VALUE' }`: a `--set` argument, the value read as YAML.
 *
 * Sources are merged in the order given (merge.ts): later ones win; the CLI
 * puts `--set` arguments after every `--config`. Problems in a file or in an
 * environment variable keep their line:column; those in a `yaml:` URI or a
 * `--set` name the source only (it is one line the user just typed).
 */
import { ZonetapError } from '../errors.ts';
import type { ConfigProblem, SourcePosition } from './problems.ts';
import { defineKey, isPlainMap, parseConfigText, pathKey, readConfigFile } from './source.ts';
import type { LocatedConfig } from './source.ts';

/** A `--config` value (path or URI), or a `--set` argument. */
export type ConfigSource = string | { readonly set: string };

export type ReadSource = { config?: LocatedConfig; problems: ConfigProblem[] };

/** The Collector's rule: a scheme is two or more characters, so `C:\x.yaml` stays a path. */
const URI = /^([A-Za-z][A-Za-z0-9+.-]+):(.*)$/s;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The separator of nested keys in `yaml:` URIs and `--set`, as in problems' key paths. */
export const KEY_DELIMITER = '::';
const SCHEMES = ['file', 'env', 'yaml'];

/** How problems and the `files` of a ServiceConfig name the source. */
export function sourceName(source: ConfigSource): string {
  return typeof source === 'string' ? source : `--set ${source.set}`;
}

/**
 * Checks a `--set` argument: `KEY::PATH=VALUE`, a non-empty key without empty
 * parts. The value may be empty (the key's default) and may hold `=`.
 * @throws ZonetapError ZT_USAGE naming the argument.
 */
export function setSource(argument: string): ConfigSource {
  const eq = argument.indexOf('=');
  const bad = (why: string): never => {
    throw new ZonetapError('ZT_USAGE', `invalid --set "${argument}": ${why}; expected KEY::PATH=VALUE, like exporters::prometheus::endpoint=0.0.0.0:9464`);
  };
  if (eq < 0) bad('no "="');
  const key = argument.slice(0, eq);
  if (key.trim() === '') bad('the key is empty');
  if (key.split(KEY_DELIMITER).some((part) => part.trim() === '')) bad(`the key has an empty part between "${KEY_DELIMITER}"`);
  return { set: argument };
}

/** Every key and item of `value` at `whole`: a later source's problems must point at it, not at an earlier file that wrote the same key. */
function everyPosition(value: unknown, whole: SourcePosition): Map<string, SourcePosition> {
  const positions = new Map<string, SourcePosition>();
  const walk = (v: unknown, path: (string | number)[]) => {
    positions.set(pathKey(path), whole);
    if (Array.isArray(v)) v.forEach((item, i) => walk(item, [...path, i]));
    else if (isPlainMap(v)) for (const [k, child] of Object.entries(v)) walk(child, [...path, k]);
  };
  walk(value, []);
  return positions;
}

/** Every position of a command-line source names the source only (line 0: see SourcePosition). */
function withoutLines(read: ReadSource, name: string): ReadSource {
  const whole: SourcePosition = { file: name, line: 0, column: 0 };
  const problems = read.problems.map((p) => (p.position ? { ...p, position: whole } : p));
  if (!read.config) return { problems };
  return { config: { ...read.config, positions: everyPosition(read.config.value, whole) }, problems };
}

/** `{"a::b": 1}` -> `{a: {b: 1}}`, deeply; keys written apart merge (`a::b` and `a::c`). */
function nestKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(nestKeys);
  if (!isPlainMap(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const parts = key.split(KEY_DELIMITER);
    let target = out;
    for (const part of parts.slice(0, -1)) {
      if (!isPlainMap(target[part])) defineKey(target, part, {});
      target = target[part] as Record<string, unknown>;
    }
    const last = parts.at(-1)!;
    const nested = nestKeys(child);
    const earlier = target[last];
    if (isPlainMap(earlier) && isPlainMap(nested)) for (const [k, v] of Object.entries(nested)) defineKey(earlier, k, v);
    else defineKey(target, last, nested);
  }
  return out;
}

/** Text whose `::` keys nest; unresolved references are kept by their nested path. */
function nested(read: ReadSource, name: string): ReadSource {
  const flat = withoutLines(read, name);
  if (!flat.config) return flat;
  const split = (p: string | number): (string | number)[] => (typeof p === 'string' ? p.split(KEY_DELIMITER) : [p]);
  const unresolved = new Set([...flat.config.unresolved].map((k) => pathKey((JSON.parse(k) as (string | number)[]).flatMap(split))));
  const value = nestKeys(flat.config.value);
  return { config: { ...flat.config, value, unresolved, positions: everyPosition(value, { file: name, line: 0, column: 0 }) }, problems: flat.problems };
}

function setArgument(argument: string, env: NodeJS.ProcessEnv): ReadSource {
  const name = `--set ${argument}`;
  const eq = argument.indexOf('=');
  const path = argument.slice(0, eq).split(KEY_DELIMITER).map((p) => p.trim());
  const read = withoutLines(parseConfigText(argument.slice(eq + 1), name, env), name);
  if (!read.config) return read;
  let value: unknown = read.config.value;
  for (const part of [...path].reverse()) {
    const map: Record<string, unknown> = {};
    defineKey(map, part, value);
    value = map;
  }
  const unresolved = new Set([...read.config.unresolved].map((k) => pathKey([...path, ...(JSON.parse(k) as (string | number)[])])));
  const positions = everyPosition(value, { file: name, line: 0, column: 0 });
  return { config: { ...read.config, value, unresolved, positions }, problems: read.problems.map((p) => ({ ...p, path: [...path, ...p.path] })) };
}

/** Reads one source; problems (unreadable, bad YAML, unknown scheme) are returned, not thrown. */
export async function readSource(source: ConfigSource, env: NodeJS.ProcessEnv = process.env): Promise<ReadSource> {
  if (typeof source !== 'string') return setArgument(source.set, env);
  const uri = URI.exec(source);
  if (!uri) return readConfigFile(source, env);
  const [, scheme, rest] = uri as unknown as [string, string, string];
  switch (scheme) {
    case 'file':
      return readConfigFile(rest, env);
    case 'env': {
      if (!ENV_NAME.test(rest)) return { problems: [{ path: [], file: source, message: `invalid environment variable name "${rest}": expected letters, digits and _` }] };
      const text = env[rest];
      if (text === undefined) return { problems: [{ path: [], file: source, message: `environment variable "${rest}" is not set` }] };
      return parseConfigText(text, source, env);
    }
    case 'yaml':
      return nested(parseConfigText(rest, source, env), source);
    default:
      return {
        problems: [{ path: [], file: source, message: `unsupported configuration URI scheme "${scheme}:": use ${SCHEMES.map((s) => `${s}:`).join(', ')} or a plain path (./${source} for a file)` }],
      };
  }
}
