/**
 * The flow log line format (README.md here), as read back by
 * receivers/replay: one JSON object per record, keys in a fixed order —
 * `start`, `end`, the record's attributes in pipeline/attributes.ts order
 * (absent when unknown), `bytes`, `packets`, then `zonetap.cost.usd` when set.
 */
import { COST_USD, IGNORED, NETWORK_TYPE, recordAttributes, TRAFFIC_CLASS, TRANSPORT } from '../../pipeline/attributes.ts';
import { TRAFFIC_CLASSES, type FlowColumns, type FlowEndpoint, type FlowRecord } from '../../pipeline/flow.ts';

/** One line, without the newline. `start`/`end` are RFC 3339 times (UTC, milliseconds). */
export function formatFlowLogLine(start: string, end: string, record: FlowRecord): string {
  const line: Record<string, unknown> = { start, end, ...recordAttributes(record), bytes: record.bytes, packets: record.packets };
  if (record.costUsd !== undefined) line[COST_USD] = record.costUsd;
  return JSON.stringify(line);
}

/** RFC 3339 text of a time in ms since the epoch, as written to flow logs. */
export function flowLogTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The lines of a batch's columns (pipeline/flow.ts FlowColumns) without
 * making a record per row: `lineOf(i)` is byte for byte formatFlowLogLine of
 * row i's record (columns carry no cost). Each end's keys are written once,
 * on its first row; a row's line is those pieces joined.
 */
export function columnLines(start: string, end: string, columns: FlowColumns): (i: number) => string {
  const c = columns;
  const head = `{"start":${JSON.stringify(start)},"end":${JSON.stringify(end)}`;
  const src = new EndKeys(c, 'src');
  const dst = new EndKeys(c, 'dst');
  const transports = c.transports.map((t) => `,${JSON.stringify(TRANSPORT)}:${JSON.stringify(t)}`);
  const families = (['ipv4', 'ipv6'] as const).map((f) => `,${JSON.stringify(NETWORK_TYPE)}:"${f}"`);
  const classes = ['', ...TRAFFIC_CLASSES.map((k) => `,${JSON.stringify(TRAFFIC_CLASS)}:"${k}"`)];
  const ignored = `,${JSON.stringify(IGNORED)}:true`;
  return (i) =>
    head +
    src.keys(c.src[i]!, c.srcPort[i]!) +
    dst.keys(c.dst[i]!, c.dstPort[i]!) +
    transports[c.transport[i]!]! +
    families[c.family[i]!]! +
    classes[c.trafficClass[i]!]! +
    (c.ignored[i] === 1 ? ignored : '') +
    `,"bytes":${c.bytes[i]!},"packets":${c.packets[i]!}}`;
}

/** The keys of one side's ends, made from recordAttributes on first use: the address, then (after the row's port) the rest. */
class EndKeys {
  readonly #ends: readonly FlowEndpoint[];
  readonly #side: 'src' | 'dst';
  readonly #port: string;
  readonly #address: (string | undefined)[] = [];
  readonly #rest: string[] = [];

  constructor(columns: FlowColumns, side: 'src' | 'dst') {
    this.#ends = columns.ends;
    this.#side = side;
    this.#port = `,${JSON.stringify(`${side}.port`)}:`;
  }

  keys(end: number, port: number): string {
    let address = this.#address[end];
    if (address === undefined) address = this.#make(end);
    return port === 0 ? address + this.#rest[end]! : address + this.#port + port + this.#rest[end]!;
  }

  #make(end: number): string {
    const none: FlowEndpoint = { address: '', port: 0 };
    const ep: FlowEndpoint = { ...this.#ends[end]!, port: 0 };
    const attributes = recordAttributes({ src: this.#side === 'src' ? ep : none, dst: this.#side === 'dst' ? ep : none, transport: '', ipFamily: 'ipv4', bytes: 0, packets: 0 });
    const addressName = `${this.#side}.address`;
    let address = '';
    let rest = '';
    for (const [name, value] of Object.entries(attributes)) {
      if (name === TRANSPORT || name === NETWORK_TYPE) continue;
      const key = `,${JSON.stringify(name)}:${JSON.stringify(value)}`;
      if (name === addressName) address = key;
      else rest += key;
    }
    this.#address[end] = address;
    this.#rest[end] = rest;
    return address;
  }
}
