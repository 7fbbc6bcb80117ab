/**
 * Destination ends shared between the records of one pass. Most flows of a
 * batch go to a few ports of the same pods (a Service's port 443, a
 * database's 5432), so the destination end named for one record is, field for
 * field, the one the next record to that pod and port needs: handing out the
 * same object saves an allocation per record and the garbage collection of
 * it (about a third of what k8sattributes allocates), and lets
 * processors/aggregate recognise an end it saw a moment ago by reference.
 * Ends are read-only once built (pipeline/README.md, Data model: a processor
 * that changes an end gives the record a new one), so sharing them is
 * invisible downstream.
 *
 * A direct-mapped table by FlowEndpoint.identity: one slot per identity
 * modulo SLOTS, bounded memory whatever the churn of pods, and a collision
 * only costs the allocation sharing would have saved. Slots are only good
 * for the pass they were filled in: between passes the directory changes
 * (relabelled nodes, new owners).
 */
import type { FlowEndpoint } from '../../pipeline/flow.ts';
import { POD, type Resolved } from './directory.ts';
import { SERVICE, type ServiceEntry } from './services.ts';

/** Slots: a power of two, above the pods of most clusters (identities are given in sequence, so 16k pods fill them without collision). */
const SLOTS = 1 << 14;

export class SharedEnds {
  readonly #ends: (FlowEndpoint | undefined)[] = new Array<FlowEndpoint | undefined>(SLOTS).fill(undefined);
  /** The pass each slot was filled in. */
  readonly #filledIn = new Float64Array(SLOTS);
  #pass = 0;

  /** Starts a pass: what earlier passes built is not handed out again. */
  begin(): void {
    this.#pass++;
  }

  /**
   * True when the end named after `r` depends only on `r`, the address, the
   * port and the Service (not on names an upstream hop wrote: namedEnd keeps
   * those where the directory knows nothing), and names its address (an end
   * of an ignored namespace is reduced to the namespace and its zone).
   */
  static shareable(ep: FlowEndpoint, r: Resolved): boolean {
    return ep.node === undefined && ep.zone === undefined && ep.region === undefined && !(r.kind === POD && r.ns.ignored);
  }

  /** The end built in this pass for the same entry, address, port and Service, if any. */
  get(ep: FlowEndpoint, r: Resolved, service: ServiceEntry | undefined): FlowEndpoint | undefined {
    const slot = r.identity & (SLOTS - 1);
    if (this.#filledIn[slot] !== this.#pass) return undefined;
    const e = this.#ends[slot]!;
    if (e.identity !== r.identity || e.address !== ep.address || e.port !== ep.port) return undefined;
    // A ClusterIP end names its own Service; a pod end the Service it was reached in.
    if (r.kind !== SERVICE && (e.service !== service?.name || e.serviceNamespace !== service?.namespace || e.serviceTopologyAware !== service?.topologyAware)) return undefined;
    return e;
  }

  /** Keeps `end`, just named after its entry, for the rest of the pass. */
  put(end: FlowEndpoint): void {
    const slot = end.identity! & (SLOTS - 1);
    this.#ends[slot] = end;
    this.#filledIn[slot] = this.#pass;
  }
}
