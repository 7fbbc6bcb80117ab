/**
 * What the gateway keeps per attribute set of an agent (a FlowEntry), found
 * by a hash of the encoded attributes and verified byte for byte, and what
 * each costs in memory: the receiver's memory is bounded by
 * `max_streams_memory_mib`, counted with entryBytes() and agentBytes(),
 * upper bounds of what V8 holds for them (receivers/otlp/README.md "Memory").
 */
import type { FlowEndpoint, FlowRecord } from '../../pipeline/flow.ts';
import type { SumReader } from './points.ts';

/** The last point applied to one metric of an entry. */
export interface PointState {
  startNs: number;
  timeNs: number;
  value: number;
}

/** One attribute set of one agent: its decoded attributes and the state of its three metric streams. */
export interface FlowEntry {
  /** The attribute list as encoded (a private copy), compared on hash hits. */
  readonly key: Buffer;
  /** The record the attributes map to (bytes and packets 0), copied for every delta. */
  readonly template: FlowRecord;
  readonly points: [PointState | undefined, PointState | undefined, PointState | undefined];
  /** entryBytes() of this entry. */
  readonly bytes: number;
  seenMs: number;
  /** Next entry whose key has the same hash (rare). */
  collision: FlowEntry | undefined;
  /** For entries first seen in the request being ingested: inserted, or refused (max_streams, memory). */
  state: 'pending' | 'tracked' | 'refused';
}

/**
 * Bytes an entry holds beyond its key and strings, measured on Node 24 (the
 * entry, its record template and endpoints, three point states, the index
 * slot), rounded up: receivers/otlp/hostile.test.ts checks it against the heap.
 */
export const ENTRY_OVERHEAD_BYTES = 1280;
/** The same for an agent: its streams' index and its map slot. */
export const AGENT_OVERHEAD_BYTES = 512;

/** A string's heap size, at most: two bytes a character (V8 keeps non-Latin-1 text so), plus its header. */
function stringBytes(s: string | undefined): number {
  return s === undefined ? 0 : 24 + 2 * s.length;
}

function endpointBytes(e: FlowEndpoint): number {
  return (
    stringBytes(e.address) + stringBytes(e.namespace) + stringBytes(e.pod) + stringBytes(e.workloadKind) + stringBytes(e.workloadName) + stringBytes(e.node) + stringBytes(e.zone) + stringBytes(e.region) +
    stringBytes(e.service) + stringBytes(e.serviceNamespace) + stringBytes(e.externalKind) + labelsBytes(e.podLabels) + labelsBytes(e.namespaceLabels)
  );
}

/** A label object (k8sattributes' pod_labels, namespace_labels) at most: the object, then per label its slot, key and value. */
function labelsBytes(labels: Readonly<Record<string, string>> | undefined): number {
  if (labels === undefined) return 0;
  let bytes = 64;
  for (const key in labels) bytes += 16 + stringBytes(key) + stringBytes(labels[key]);
  return bytes;
}

/** What an entry with this key and template costs, at most. */
export function entryBytes(key: Buffer, template: FlowRecord): number {
  return ENTRY_OVERHEAD_BYTES + key.length + endpointBytes(template.src) + endpointBytes(template.dst) + stringBytes(template.transport);
}

/** What an agent's own state costs, at most (its entries are counted on their own). */
export function agentBytes(agentKey: string): number {
  return AGENT_OVERHEAD_BYTES + stringBytes(agentKey);
}

/** Entries by attribute hash, verified by bytes. */
export class EntryIndex {
  readonly #byHash = new Map<number, FlowEntry>();
  size = 0;

  find(hash: number, sum: SumReader): FlowEntry | undefined {
    for (let e = this.#byHash.get(hash); e; e = e.collision) if (sum.attributesEqual(e.key)) return e;
    return undefined;
  }

  add(hash: number, entry: FlowEntry): void {
    entry.collision = this.#byHash.get(hash);
    this.#byHash.set(hash, entry);
    this.size++;
  }

  /** Removes entries not seen since `cutoff`; returns how many, and their entryBytes(). */
  expire(cutoff: number): { entries: number; bytes: number } {
    let entries = 0;
    let bytes = 0;
    for (const [hash, head] of this.#byHash) {
      let kept: FlowEntry | undefined;
      for (let e: FlowEntry | undefined = head; e; ) {
        const next: FlowEntry | undefined = e.collision;
        if (e.seenMs < cutoff) {
          entries++;
          bytes += e.bytes;
        } else {
          e.collision = kept;
          kept = e;
        }
        e = next;
      }
      if (kept) this.#byHash.set(hash, kept);
      else this.#byHash.delete(hash);
    }
    this.size -= entries;
    return { entries, bytes };
  }

  /** entryBytes() of every entry. */
  get bytes(): number {
    let total = 0;
    for (const head of this.#byHash.values()) for (let e: FlowEntry | undefined = head; e; e = e.collision) total += e.bytes;
    return total;
  }
}
