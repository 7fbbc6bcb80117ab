/** Turns zod issues into configuration problems with a position and a message a user can act on. */
import type { z } from 'zod';
import { positionOf } from './merge.ts';
import type { MergedConfig } from './merge.ts';
import { suggestion } from './problems.ts';
import type { ConfigProblem } from './problems.ts';
import { isPlainMap } from './source.ts';
import type { ConfigPath } from './source.ts';

type Issue = z.core.$ZodIssue;

/** What a value is, in YAML words, with the value when it is short. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'an empty value';
  if (Array.isArray(v)) return 'a sequence';
  if (isPlainMap(v)) return 'a map';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

const EXPECTED: Record<string, string> = {
  object: 'a map',
  record: 'a map',
  array: 'a sequence',
  tuple: 'a sequence',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  bigint: 'an integer',
};

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const k of path) {
    if (Array.isArray(v) && typeof k === 'number') v = v[k];
    else if (isPlainMap(v) && typeof k === 'string' && Object.hasOwn(v, k)) v = v[k];
    else return undefined;
  }
  return v;
}

interface SchemaDef {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
  element?: unknown;
  valueType?: unknown;
  options?: unknown[];
  getter?: () => unknown;
}
const defOf = (schema: unknown): SchemaDef | undefined => (schema as { _zod?: { def?: SchemaDef } })?._zod?.def;

/** The keys an object schema accepts at `path` (empty when the schema cannot be followed there). */
export function keysAt(schema: unknown, path: readonly PropertyKey[]): string[] {
  let current: unknown[] = [schema];
  const unwrap = (s: unknown): unknown[] => {
    const d = defOf(s);
    if (!d) return [];
    if (d.innerType !== undefined) return unwrap(d.innerType);
    if (d.type === 'pipe' && d.in !== undefined) return unwrap(d.in);
    if (d.type === 'lazy' && d.getter) return unwrap(d.getter());
    if (d.type === 'union' && d.options) return d.options.flatMap(unwrap);
    return [s];
  };
  for (const key of path) {
    const next: unknown[] = [];
    for (const s of current.flatMap(unwrap)) {
      const d = defOf(s)!;
      if (d.type === 'object' && typeof key === 'string' && d.shape && key in d.shape) next.push(d.shape[key]);
      else if (d.type === 'array' && typeof key === 'number') next.push(d.element);
      else if (d.type === 'record') next.push(d.valueType);
    }
    current = next;
  }
  const keys = new Set<string>();
  for (const s of current.flatMap(unwrap)) {
    const d = defOf(s)!;
    if (d.type === 'object' && d.shape) for (const k of Object.keys(d.shape)) keys.add(k);
  }
  return [...keys];
}

const isDefaultZodMessage = (m: string) => /^(Invalid input|Invalid option|Too (small|big)|Invalid string|Unrecognized key)/.test(m);
const lowerFirst = (m: string) => m.replace(/^./, (c) => c.toLowerCase());

function bound(issue: Issue & { code: 'too_small' | 'too_big' }): string {
  const small = issue.code === 'too_small';
  const limit = small ? issue.minimum : issue.maximum;
  const op = issue.exact ? 'exactly' : small ? (issue.inclusive ? 'at least' : 'more than') : issue.inclusive ? 'at most' : 'less than';
  if (issue.origin === 'array' || issue.origin === 'set') return `must have ${op} ${limit} ${Number(limit) === 1 ? 'item' : 'items'}`;
  if (issue.origin === 'string') return `must be ${op} ${limit} characters long`;
  return `must be ${op} ${limit}`;
}

/**
 * Problems for the zod issues of one schema parse. `base` is where the parsed
 * value sits in the configuration (e.g. ['processors', 'cost']); `input` is the
 * value that was parsed; `schema` is used to list valid keys for typos.
 */
export function issuesToProblems(issues: readonly Issue[], base: ConfigPath, input: unknown, schema: unknown, merged: MergedConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const rel = issue.path.map((k) => (typeof k === 'symbol' ? String(k) : k)) as (string | number)[];
    const path = [...base, ...rel];
    const value = valueAt(input, rel);
    const at = (p: ConfigPath) => positionOf(merged, p);
    const custom = isDefaultZodMessage(issue.message) ? undefined : issue.message;
    switch (issue.code) {
      case 'unrecognized_keys': {
        const valid = keysAt(schema, rel);
        for (const key of issue.keys) {
          problems.push({ path: [...path, key], position: at([...path, key]), message: `unknown key "${key}"${suggestion(key, valid, 'keys')}` });
        }
        continue;
      }
      case 'invalid_type':
        if (value === undefined) {
          problems.push({ path, position: at(path), message: `missing required key (${custom ?? `expected ${EXPECTED[issue.expected] ?? issue.expected}`})` });
        } else {
          problems.push({ path, position: at(path), message: `${custom ?? `expected ${EXPECTED[issue.expected] ?? issue.expected}`}, got ${describeValue(value)}` });
        }
        continue;
      case 'invalid_value': {
        const options = issue.values.map(String).join('|');
        const what = value === undefined ? 'missing required key' : `invalid option ${JSON.stringify(value)}`;
        problems.push({ path, position: at(path), message: custom ?? `${what}: expected one of ${options}` });
        continue;
      }
      case 'too_small':
      case 'too_big':
        problems.push({ path, position: at(path), message: custom ?? `${describeValue(value)} ${bound(issue)}` });
        continue;
      case 'invalid_union':
        problems.push({ path, position: at(path), message: `${custom ?? 'invalid value'}: got ${describeValue(value)}` });
        continue;
      default:
        problems.push({ path, position: at(path), message: custom ?? `${lowerFirst(issue.message)}, got ${describeValue(value)}` });
    }
  }
  return problems;
}
