/**
 * What a PromQL expression reads: metric names and label names. A small lexer is enough for
 * the expressions in deploy/ (its job is to catch a renamed metric or label, not to parse
 * every PromQL program); `promtool check rules` checks that the expressions are valid PromQL.
 * And the README's queries, which tests run against a real Prometheus.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** Label-name arguments of functions that take them as strings: index of those arguments. */
const LABEL_STRING_ARGUMENTS: Record<string, number[]> = { label_replace: [1, 3], label_join: [1, 2] };

export interface PromqlNames {
  metrics: Set<string>;
  labels: Set<string>;
}

/** Replaces Grafana's variables with values promtool accepts. */
export function substituteGrafanaVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h')
    .replace(/\$\{?(\w+)\}?/g, '.*');
}

/** Metric and label names that `expr` refers to. */
export function promqlNames(expr: string): PromqlNames {
  const metrics = new Set<string>();
  const labels = new Set<string>();
  // Label names given as strings, e.g. label_replace(v, "dst", "$1", "src", "re").
  for (const [fn, positions] of Object.entries(LABEL_STRING_ARGUMENTS)) {
    for (const m of expr.matchAll(new RegExp(`\\b${fn}\\s*\\(`, 'g'))) {
      const args = splitArguments(expr, m.index + m[0].length);
      for (const i of positions) {
        const arg = args[i]?.trim();
        if (arg && /^"[^"]*"$/.test(arg)) labels.add(arg.slice(1, -1));
      }
    }
  }
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  rest = rest.replace(/\{([^}]*)\}/g, (_, matchers: string) => {
    for (const m of matchers.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.add(m[1]!);
    return ' ';
  });
  rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, _kw: string, names: string) => {
    for (const n of names.split(',').map((s) => s.trim()).filter(Boolean)) labels.add(n);
    return ' ';
  });
  rest = rest.replace(/\[[^\]]*\]/g, ' ');
  for (const m of rest.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, name, call] = m;
    if (call || KEYWORDS.has(name!.toLowerCase())) continue;
    metrics.add(name!);
  }
  return { metrics, labels };
}

/** Top-level comma-separated arguments of the call whose "(" ends just before `start`. */
function splitArguments(text: string, start: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let current = '';
  let quote: string | undefined;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      current += c;
      if (c === '\\') current += text[++i] ?? '';
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '(' || c === '{' || c === '[') depth++;
    else if (c === ')' || c === '}' || c === ']') {
      if (depth === 0) break;
      depth--;
    } else if (c === ',' && depth === 0) {
      args.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  args.push(current);
  return args;
}

/**
 * A query of the top-level README.md's "PromQL for the common questions", by
 * its heading: the README users read is the one tests run.
 * exporters/prometheus/README.md repeats the section and must say the same.
 */
export function readmeQuery(title: string): string {
  const repo = join(import.meta.dirname, '..', '..');
  const [query, copy] = ['README.md', 'exporters/prometheus/README.md'].map((file) => {
    const readme = readFileSync(join(repo, file), 'utf8');
    const section = readme.slice(readme.indexOf('## PromQL for the common questions'));
    for (const m of section.matchAll(/^### (.+)\n\n```promql\n(.+)\n```/gm)) if (m[1] === title) return m[2]!;
    throw new Error(`${file} has no query titled "${title}" under "## PromQL for the common questions"`);
  });
  assert.equal(copy, query, `exporters/prometheus/README.md and README.md disagree on "${title}"`);
  return query!;
}
