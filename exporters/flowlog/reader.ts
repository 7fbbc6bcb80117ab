/**
 * Reads flow log lines (format: README.md; written by exporter.ts, format.ts)
 * back into batches. Every line is checked; a damaged one (torn by a full
 * disk or a crash, or edited by hand) is skipped and reported with its line
 * number and what is wrong, and the rest of the file is read.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import {
  COST_USD,
  DST_ATTRIBUTES,
  IGNORED,
  NETWORK_TYPE,
  SRC_ATTRIBUTES,
  TRAFFIC_CLASS,
  TRANSPORT,
  attributesToRecord,
  labelAttribute,
} from '../../pipeline/attributes.ts';
import { TRAFFIC_CLASSES, type FlowBatch, type FlowRecord } from '../../pipeline/flow.ts';

/** What a key of a flow log line must hold. */
type ValueKind = 'time' | 'count' | 'address' | 'port' | 'text' | 'boolean' | 'network' | 'class' | 'cost' | 'true';

const KEY_KINDS = new Map<string, ValueKind>([
  ['start', 'time'],
  ['end', 'time'],
  ['bytes', 'count'],
  ['packets', 'count'],
  [TRANSPORT, 'text'],
  [NETWORK_TYPE, 'network'],
  [TRAFFIC_CLASS, 'class'],
  [COST_USD, 'cost'],
  [IGNORED, 'true'],
]);
for (const [field, name] of [...SRC_ATTRIBUTES, ...DST_ATTRIBUTES]) {
  KEY_KINDS.set(name, field === 'address' ? 'address' : field === 'port' ? 'port' : field === 'hostNetwork' || field === 'serviceTopologyAware' ? 'boolean' : 'text');
}

const REQUIRED = ['start', 'end', 'bytes', 'packets'] as const;
/** Required too, except on an end reduced to its namespace (`zonetap.ignored`), which has none. */
const ADDRESSES = ['src.address', 'dst.address'] as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const CLASSES = new Set<string>(TRAFFIC_CLASSES);

/** Why a value is wrong for its kind, or undefined when it is right. */
function problem(kind: ValueKind, v: unknown): string | undefined {
  switch (kind) {
    case 'time':
      return typeof v === 'string' && RFC3339.test(v) && !Number.isNaN(Date.parse(v)) ? undefined : 'an RFC 3339 time like 2026-01-02T03:04:05.000Z';
    case 'count':
      return Number.isSafeInteger(v) && (v as number) >= 0 ? undefined : 'a whole number >= 0';
    case 'address':
      return typeof v === 'string' && isIP(v) !== 0 ? undefined : 'an IPv4 or IPv6 address';
    case 'port':
      return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 65535 ? undefined : 'a port number 0-65535';
    case 'text':
      return typeof v === 'string' && v !== '' ? undefined : 'a non-empty string';
    case 'boolean':
      return typeof v === 'boolean' ? undefined : 'true or false';
    case 'network':
      return v === 'ipv4' || v === 'ipv6' ? undefined : '"ipv4" or "ipv6"';
    case 'class':
      return typeof v === 'string' && CLASSES.has(v) ? undefined : `one of ${TRAFFIC_CLASSES.join(', ')}`;
    case 'cost':
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? undefined : 'a number >= 0';
    case 'true':
      return v === true ? undefined : 'true (absent when not ignored)';
  }
}

/** ` (did you mean "x"?)` for the known key nearest to `key`, if it is close. */
function suggestion(key: string): string {
  let best = '';
  let bestDistance = Infinity;
  for (const known of KEY_KINDS.keys()) {
    const d = editDistance(key, known);
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  return bestDistance <= Math.max(2, key.length / 4) ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** One parsed line: its interval and its record. */
interface FlowLogEntry {
  start: number;
  end: number;
  record: FlowRecord;
}

/** Parses one line; throws a message without the file:line prefix. */
function parseLine(text: string): FlowLogEntry {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected a JSON object');
  const line = value as Record<string, unknown>;
  for (const key of REQUIRED) if (!(key in line)) throw new Error(`missing "${key}"`);
  const ignored = line[IGNORED] === true;
  if (!ignored) for (const key of ADDRESSES) if (!(key in line)) throw new Error(`missing "${key}"`);
  for (const [key, v] of Object.entries(line)) {
    // Chosen pod and namespace labels (k8s.src.pod.label.team, ...): any key, a text value.
    const kind = KEY_KINDS.get(key) ?? (labelAttribute(key) !== undefined ? 'text' : undefined);
    if (!kind) throw new Error(`unknown key "${key}"${suggestion(key)}`);
    const expected = problem(kind, v);
    if (expected) throw new Error(`"${key}" must be ${expected}, got ${JSON.stringify(v)}`);
  }
  const start = Date.parse(line.start as string);
  const end = Date.parse(line.end as string);
  if (end < start) throw new Error(`"end" (${line.end}) is before "start" (${line.start})`);
  const families = ADDRESSES.filter((key) => key in line).map((key) => isIP(line[key] as string));
  if (families.length === 2 && families[0] !== families[1]) throw new Error('"src.address" and "dst.address" are of different IP families');
  const family = families[0];
  const network = line[NETWORK_TYPE];
  if (family === undefined && network === undefined) throw new Error(`missing "${NETWORK_TYPE}": neither end has an address to tell the IP family by`);
  if (network !== undefined && family !== undefined && network !== `ipv${family}`) throw new Error(`"${NETWORK_TYPE}" is ${JSON.stringify(network)} but the addresses are IPv${family}`);
  const record = attributesToRecord(line, line.bytes as number, line.packets as number);
  if (line[COST_USD] !== undefined) record.costUsd = line[COST_USD] as number;
  return { start, end, record };
}

/** A line that was not read, and why. */
export interface DamagedLine {
  /** 1-based line number. */
  line: number;
  problem: string;
}

/** A flow log's batches, and the lines skipped because they are damaged. */
export interface FlowLog {
  batches: FlowBatch[];
  damaged: DamagedLine[];
}

/**
 * Parses a whole flow log. Records with the same (start, end) form one batch;
 * batches come out sorted by start, then end, records in file order.
 * Blank lines are skipped; damaged lines too, listed in `damaged`.
 */
export function parseFlowLog(text: string): FlowLog {
  const byInterval = new Map<string, FlowBatch>();
  const damaged: DamagedLine[] = [];
  let lineNo = 0;
  let from = 0;
  while (from < text.length) {
    let to = text.indexOf('\n', from);
    if (to === -1) to = text.length;
    lineNo++;
    const line = text.slice(from, to);
    from = to + 1;
    if (line.trim() === '') continue;
    let entry: FlowLogEntry;
    try {
      entry = parseLine(line);
    } catch (err) {
      damaged.push({ line: lineNo, problem: (err as Error).message });
      continue;
    }
    const key = `${entry.start}/${entry.end}`;
    let batch = byInterval.get(key);
    if (!batch) byInterval.set(key, (batch = { start: entry.start, end: entry.end, records: [] }));
    batch.records.push(entry.record);
  }
  const batches = [...byInterval.values()].sort((a, b) => a.start - b.start || a.end - b.end);
  return { batches, damaged };
}

/**
 * Reads and parses a flow log file (see parseFlowLog). A file with damaged
 * lines and no good one is not a flow log: that fails with `file:line: what is wrong`
 * of its first line.
 */
export async function readFlowLog(path: string): Promise<FlowLog> {
  const log = parseFlowLog(await readFile(path, 'utf8'));
  const [first, ...more] = log.damaged;
  if (first && log.batches.length === 0) {
    throw new Error(`${path}:${first.line}: ${first.problem}${more.length ? ` (and ${more.length} more damaged lines; no line is a flow record)` : ''}`);
  }
  return log;
}
