/**
 * Label and field selectors with the Kubernetes API server's grammar:
 * labels `a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a`; fields `f=v, f==v, f!=v`
 * on the fields a resource supports (anything else is a 400, as on a real server).
 */

type LabelRequirement =
  | { op: 'eq' | 'ne'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: Set<string> }
  | { op: 'exists' | 'notexists'; key: string };

export type LabelSelector = (labels: Readonly<Record<string, string>> | undefined) => boolean;
export type FieldSelector = (obj: KubeObject) => boolean;

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export class SelectorError extends Error {}

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

export function parseLabelSelector(text: string | null | undefined): LabelSelector {
  if (!text || text.trim() === '') return () => true;
  const reqs: LabelRequirement[] = splitTopLevel(text).map((part) => {
    let m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (m) return { op: m[2] as 'in' | 'notin', key: m[1]!, values: new Set(m[3]!.split(',').map((v) => v.trim())) };
    m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(part);
    if (m) return { op: m[2] === '!=' ? 'ne' : 'eq', key: m[1]!, value: m[3]! };
    m = /^(!?)([\w./-]+)$/.exec(part);
    if (m) return { op: m[1] ? 'notexists' : 'exists', key: m[2]! };
    throw new SelectorError(`unable to parse requirement: "${part}"`);
  });
  return (labels) => {
    const l = labels ?? {};
    for (const r of reqs) {
      const has = Object.hasOwn(l, r.key);
      const v = l[r.key];
      switch (r.op) {
        case 'eq': if (!has || v !== r.value) return false; break;
        case 'ne': if (has && v === r.value) return false; break;
        case 'in': if (!has || !r.values.has(v!)) return false; break;
        case 'notin': if (has && r.values.has(v!)) return false; break;
        case 'exists': if (!has) return false; break;
        case 'notexists': if (has) return false; break;
      }
    }
    return true;
  };
}

function fieldValue(obj: KubeObject, path: string): string {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return '';
  return String(cur);
}

/** Fields each resource accepts in a fieldSelector (metadata.name and metadata.namespace are always accepted). */
export function parseFieldSelector(text: string | null | undefined, supported: readonly string[]): FieldSelector {
  if (!text || text.trim() === '') return () => true;
  const reqs = splitTopLevel(text).map((part) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw new SelectorError(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = m[1]!;
    if (field !== 'metadata.name' && field !== 'metadata.namespace' && !supported.includes(field)) {
      throw new SelectorError(`field label not supported: ${field}`);
    }
    return { field, negate: m[2] === '!=', value: m[3]!.trim() };
  });
  return (obj) => {
    for (const r of reqs) if ((fieldValue(obj, r.field) === r.value) === r.negate) return false;
    return true;
  };
}
