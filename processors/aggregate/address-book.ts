/**
 * The distinct rolled-up ends, numbered, and what each address or identity
 * rolled up to last time (README.md, "Speed").
 */
import type { FlowEndpoint } from '../../pipeline/flow.ts';
import { endpointKey, isNamed, rollUpEndpoint, type AggregationLevel } from './endpoint.ts';

/** Most addresses remembered; past this the address book starts over (at a batch boundary). */
const MAX_REMEMBERED_ADDRESSES = 200_000;
/**
 * Ends with an identity (FlowEndpoint.identity, set by k8sattributes) below
 * this are remembered by identity in an array (no string hashing); others,
 * and ends without one, by address.
 */
const MAX_IDENTITY = 1 << 21;

/**
 * What an address was last seen as (every attribute roll-up reads), and the
 * rolled-up endpoint that gave. One object of one shape per address, so
 * checking that an end is as last time touches a single object.
 */
class AddressMemo {
  namespace: string | undefined;
  pod: string | undefined;
  workloadKind: string | undefined;
  workloadName: string | undefined;
  node: string | undefined;
  zone: string | undefined;
  region: string | undefined;
  hostNetwork: boolean | undefined;
  service: string | undefined;
  serviceNamespace: string | undefined;
  serviceTopologyAware: boolean | undefined;
  externalKind: string | undefined;
  /** Compared by reference: k8sattributes shares one object per distinct set. */
  podLabels: Readonly<Record<string, string>> | undefined;
  namespaceLabels: Readonly<Record<string, string>> | undefined;
  /** Index of the rolled-up endpoint in the address book. */
  rolled: number;

  constructor(ep: FlowEndpoint, rolled: number) {
    // Copied field by field: the record's own endpoint may be changed or reused after this batch.
    this.namespace = ep.namespace;
    this.pod = ep.pod;
    this.workloadKind = ep.workloadKind;
    this.workloadName = ep.workloadName;
    this.node = ep.node;
    this.zone = ep.zone;
    this.region = ep.region;
    this.hostNetwork = ep.hostNetwork;
    this.service = ep.service;
    this.serviceNamespace = ep.serviceNamespace;
    this.serviceTopologyAware = ep.serviceTopologyAware;
    this.externalKind = ep.externalKind;
    this.podLabels = ep.podLabels;
    this.namespaceLabels = ep.namespaceLabels;
    this.rolled = rolled;
  }

  /** Same attributes apart from the address and the port (which roll-up drops or keeps by address). */
  matches(ep: FlowEndpoint): boolean {
    return (
      this.pod === ep.pod && this.workloadName === ep.workloadName && this.zone === ep.zone && this.namespace === ep.namespace &&
      this.workloadKind === ep.workloadKind && this.node === ep.node && this.region === ep.region && this.hostNetwork === ep.hostNetwork &&
      this.service === ep.service && this.serviceNamespace === ep.serviceNamespace && this.serviceTopologyAware === ep.serviceTopologyAware && this.externalKind === ep.externalKind && this.podLabels === ep.podLabels && this.namespaceLabels === ep.namespaceLabels
    );
  }
}

/**
 * The distinct rolled-up endpoints, numbered, and which one each address gave
 * last time, with the attributes it had: an end whose address and attributes
 * are as last time (the usual case: the same pods, batch after batch) costs
 * one Map lookup and a few string comparisons (of interned strings: pointer
 * compares), with no key string built and nothing allocated. Shared by both
 * sides of the records (a pod is a source and a destination: one memo).
 */
export class AddressBook {
  /** Rolled-up endpoints by number. */
  rolled: FlowEndpoint[] = [];
  readonly #level: AggregationLevel;
  /** Above pod level, unnamed ends without zone or region all roll up to "elsewhere" (number 0 then). */
  readonly #collapseUnnamed: boolean;
  readonly #byKey = new Map<string, number>();
  readonly #byAddress = new Map<string, AddressMemo>();
  /** Memo per FlowEndpoint.identity below MAX_IDENTITY (undefined where none yet). */
  readonly #byIdentity: (AddressMemo | undefined)[] = [];

  constructor(level: AggregationLevel) {
    this.#level = level;
    this.#collapseUnnamed = level !== 'pod';
    this.#reset();
  }

  beginBatch(): void {
    if (this.#byAddress.size > MAX_REMEMBERED_ADDRESSES || this.#byIdentity.length > MAX_REMEMBERED_ADDRESSES * 4) this.#reset();
  }

  #reset(): void {
    this.#byAddress.clear();
    this.#byIdentity.length = 0;
    this.#byKey.clear();
    this.rolled = [];
    if (this.#collapseUnnamed) this.#number({ address: '', port: 0 });
  }

  /** The number of the endpoint `ep` rolls up to. */
  number(ep: FlowEndpoint): number {
    if (this.#collapseUnnamed && !ep.zone && !ep.region && !isNamed(ep)) return 0;
    const identity = ep.identity;
    // By identity only when the rolled-up end cannot depend on the address (named, or above pod level).
    if (identity !== undefined && identity < MAX_IDENTITY && (this.#collapseUnnamed || isNamed(ep))) {
      const memos = this.#byIdentity;
      const memo = memos[identity];
      if (memo !== undefined && memo.matches(ep)) return memo.rolled;
      const n = this.#number(rollUpEndpoint(ep, this.#level));
      while (memos.length <= identity) memos.push(undefined);
      memos[identity] = new AddressMemo(ep, n);
      return n;
    }
    const known = this.#byAddress.get(ep.address);
    if (known !== undefined && known.matches(ep)) return known.rolled;
    const n = this.#number(rollUpEndpoint(ep, this.#level));
    this.#byAddress.set(ep.address, new AddressMemo(ep, n));
    return n;
  }

  #number(rolled: FlowEndpoint): number {
    const key = endpointKey(rolled);
    let n = this.#byKey.get(key);
    if (n === undefined) {
      // Frozen: the output records share it (see RollUp#records).
      n = this.rolled.push(Object.freeze(rolled)) - 1;
      this.#byKey.set(key, n);
    }
    return n;
  }
}
