/**
 * Reads one YAML configuration file into plain values plus the position of
 * every key and sequence item, and replaces references in values, as the
 * OpenTelemetry Collector's confmap does:
 *
 * - `${env:NAME}`: the environment variable; unset is a problem;
 * - `${env:NAME:-default}`: the default when the variable is unset (as in the
 *   Collector, an empty variable stays empty);
 * - `${file:PATH}`: the file's text without its final newline (a token file,
 *   a certificate); a relative PATH is relative to the working directory;
 * - `$$`: a literal `$`.
 *
 * A value that is exactly one reference takes its YAML type (number, boolean).
 */
import { readFileSync, statSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parse as parseYaml } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import type { ConfigProblem, SourcePosition } from './problems.ts';
import { MAX_CONFIG_BYTES, readConfigText } from './read.ts';
import { MAX_NESTING, TOO_DEEP, checkDocument, parseLimited } from './yaml-document.ts';

export type ConfigPath = readonly (string | number)[];

/** A parsed file: plain values (maps are plain objects) and where each key was written. */
export interface LocatedConfig {
  file: string;
  value: unknown;
  /** pathKey(path) -> position of that key (or sequence item). The root is pathKey([]). */
  positions: Map<string, SourcePosition>;
  /** pathKey of values holding a reference that could not be replaced (already reported). */
  unresolved: Set<string>;
}

export function pathKey(path: ConfigPath): string {
  return JSON.stringify(path);
}

/** `$$` is a literal `$`; `${env:...}` and `${file:...}` are replaced; any other `${...}` is an error. */
const REFERENCE = /\$\$|\$\{([^}]*)\}/g;
const ENV_REFERENCE = /^env:([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;
const FILE_REFERENCE = /^file:(.+)$/s;
const UNSUPPORTED = 'use ${env:NAME}, ${env:NAME:-default}, ${file:PATH}, or $$ for a literal $';

/** The text a `${file:PATH}` stands for, or why it cannot be read. */
function referencedFile(path: string): { text: string } | { problem: string } {
  try {
    if (statSync(path).size > MAX_CONFIG_BYTES) return { problem: `file "${path}" is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB` };
    return { text: readFileSync(path, 'utf8').replace(/\r?\n$/, '') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    return { problem: `cannot read file "${path}": ${why}` };
  }
}

export function isPlainMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets a key without ever touching the prototype (a YAML key may be `__proto__`). */
export function defineKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const YAML_MESSAGES: Record<string, string> = {
  MULTIPLE_DOCS: 'a configuration file holds one YAML document; found a second one',
};

/** The first non-blank offset at or after `offset` (YAML reports some errors at the end of the previous line). */
function skipSpace(text: string, offset: number): number {
  let i = offset;
  while (i < text.length && /\s/.test(text[i]!)) i++;
  return i < text.length ? i : offset;
}

/** Reads and parses one file; problems (unreadable, YAML syntax, missing environment variables) are returned, not thrown. */
export async function readConfigFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ config?: LocatedConfig; problems: ConfigProblem[] }> {
  const { text, problem } = await readConfigText(file);
  if (problem) return { problems: [problem] };
  return parseConfigText(text, file, env);
}

/**
 * Parses configuration text that came from `file` (a path, or a name for text
 * given in code), as readConfigFile does, within the limits of yaml-document.ts.
 */
export function parseConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): { config?: LocatedConfig; problems: ConfigProblem[] } {
  const lines = new LineCounter();
  const at = (offset: number): SourcePosition => {
    const { line, col } = lines.linePos(offset);
    return { file, line: Math.max(line, 1), column: col };
  };
  const parsed = parseLimited(text, lines);
  if (parsed.problem) return { problems: [{ path: [], position: at(parsed.problem.offset), message: parsed.problem.message }] };
  const doc = parsed.doc;
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => ({
        path: [],
        position: at(skipSpace(text, e.pos[0])),
        message: `invalid YAML: ${YAML_MESSAGES[e.code] ?? e.message.replace(/^./, (c) => c.toLowerCase())}`,
      })),
    };
  }
  const checked = checkDocument(doc);
  if (checked.problems.length > 0) {
    return { problems: checked.problems.map((p) => ({ path: [], position: at(p.offset), message: p.message })) };
  }
  const problems: ConfigProblem[] = [];
  const positions = new Map<string, SourcePosition>();
  const unresolved = new Set<string>();
  const root = doc.contents as YamlNode | null;
  positions.set(pathKey([]), at(root?.range?.[0] ?? 0));

  const substitute = (raw: string, node: YamlNode, path: ConfigPath): unknown => {
    if (!raw.includes('$')) return raw;
    const source = node.range ? text.slice(node.range[0], node.range[1]) : '';
    const whereIn = (ref: string): SourcePosition => {
      const i = source.indexOf(ref);
      return at((node.range?.[0] ?? 0) + Math.max(i, 0));
    };
    let whole: unknown;
    const out = raw.replace(REFERENCE, (match, inner: string | undefined) => {
      if (match === '$$') return '$';
      const fail = (message: string) => {
        unresolved.add(pathKey(path));
        problems.push({ path, position: whereIn(match), message });
        return match;
      };
      let value: string;
      const envRef = ENV_REFERENCE.exec(inner ?? '');
      const fileRef = FILE_REFERENCE.exec(inner ?? '');
      if (envRef) {
        const found = env[envRef[1]!] ?? envRef[2];
        if (found === undefined) return fail(`environment variable "${envRef[1]}" is not set`);
        value = found;
      } else if (fileRef) {
        const read = referencedFile(fileRef[1]!);
        if ('problem' in read) return fail(read.problem);
        value = read.text;
      } else {
        return fail(`unsupported reference "${match}": ${UNSUPPORTED}`);
      }
      if (match === raw) whole = value;
      return value;
    });
    // As in the Collector: a value that is exactly one reference takes the variable's YAML type (number, boolean).
    if (typeof whole === 'string') {
      try {
        const typed = parseYaml(whole) as unknown;
        if (typeof typed === 'number' || typeof typed === 'boolean') return typed;
      } catch {
        // not a YAML scalar: keep the text
      }
    }
    return out;
  };

  /** Set when the expanded document nests too deeply: the value is then not used. */
  let tooDeep = false;
  /** `alias`: the outermost alias being expanded, where a problem inside its expansion is reported. */
  const walk = (node: unknown, path: ConfigPath, alias?: YamlNode): unknown => {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) return walk(checked.aliasTargets.get(node), path, alias ?? node);
    if (path.length > MAX_NESTING) {
      if (!tooDeep) problems.push({ path: [], position: at((alias ?? (node as YamlNode)).range?.[0] ?? 0), message: TOO_DEEP });
      tooDeep = true;
      return null;
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      // YAML merge keys (`<<: *defaults`) first: keys written in this map then win, values and positions.
      for (const pair of node.items) {
        if (!isScalar(pair.key) || typeof pair.key.value !== 'symbol') continue;
        for (const source of isSeq(pair.value) ? pair.value.items : [pair.value]) {
          const merged = walk(source, path, alias);
          if (isPlainMap(merged)) for (const [k, v] of Object.entries(merged)) defineKey(out, k, v);
        }
      }
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        if (isScalar(keyNode) && typeof keyNode.value === 'symbol') continue;
        const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
        if (key === undefined) {
          problems.push({ path, position: at((keyNode as YamlNode | null)?.range?.[0] ?? node.range?.[0] ?? 0), message: 'map keys must be plain text' });
          continue;
        }
        const childPath = [...path, key];
        positions.set(pathKey(childPath), at(keyNode!.range?.[0] ?? 0));
        defineKey(out, key, walk(pair.value, childPath, alias));
      }
      return out;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const childPath = [...path, i];
        const start = (item as YamlNode | null)?.range?.[0] ?? node.range?.[0] ?? 0;
        positions.set(pathKey(childPath), at(start));
        return walk(item, childPath, alias);
      });
    }
    if (isScalar(node)) {
      return typeof node.value === 'string' ? substitute(node.value, node, path) : node.value;
    }
    return null;
  };

  const value = walk(root, []);
  if (tooDeep) return { problems };
  return { config: { file, value, positions, unresolved }, problems };
}
