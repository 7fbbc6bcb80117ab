/**
 * Test support: random flow records as k8sattributes leaves them, covering
 * every field the later processors read, and the same flows as columns the
 * way the columnar stages leave them (spare capacity, ends no row names, one
 * end content under two numbers, ends in any order). For equivalence tests:
 * a processor given `recordsBatch(records)` and `columnBatch(...)` of the
 * same flows must give the same records.
 */
import { ColumnBatch, columnsFromRecords } from '../../pipeline/columns.ts';
import { OVERFLOW_TRANSPORT, type FlowColumns, type FlowEndpoint, type FlowRecord } from '../../pipeline/flow.ts';
import { TRAFFIC_CLASSES } from '../../pipeline/flow.ts';
import type { SeededRandom } from './fuzz.ts';

/** Label sets shared between ends, as k8sattributes shares them; the last two are equal in another key order. */
const LABEL_SETS: Readonly<Record<string, string>>[] = [{ team: 't0' }, { team: 't1', app: 'a' }, { app: 'a', team: 't1' }];

/**
 * `count` ends of every kind: pods (hostNetwork, with a Service that may route
 * by zone, chosen labels), nodes known only by their node, external blocks
 * (with a zone, or a region only), unnamed private and public addresses of
 * both families, and the overflow end (address ''). Addresses repeat on
 * purpose (an address reused by another pod), and `identity` numbers repeat
 * across ends whose other fields differ (a relabelled pod), as
 * FlowEndpoint.identity allows. Zones and regions include '' (no name).
 */
export function randomEnds(random: SeededRandom, count: number): FlowEndpoint[] {
  const zone = () => random.pick(['zone-a', 'zone-b', 'zone-c', '']);
  const region = () => random.pick(['r1', 'r1', 'r2', '']);
  const address = (): string =>
    random.pick([
      () => `10.${random.int(0, 2)}.0.${random.int(0, 40)}`,
      () => `fd00::${random.int(0, 30).toString(16)}`,
      () => `34.${random.int(0, 3)}.0.${random.int(0, 20)}`,
      () => `2600::${random.int(0, 20).toString(16)}`,
      () => `169.254.169.${random.int(250, 254)}`,
    ])();
  const identity = () => random.int(0, count / 3);
  return Array.from({ length: count }, (_, i): FlowEndpoint => {
    switch (random.int(0, 7)) {
      case 0:
        return { address: address(), port: 0 };
      case 1:
        return { address: address(), port: 0, zone: zone(), region: region() };
      case 2:
        return { address: address(), port: 0, node: `node-${random.int(0, 5)}`, zone: zone(), region: region(), identity: identity() };
      case 3:
        return { address: address(), port: 0, workloadKind: 'External', workloadName: `db-${random.int(0, 2)}`, externalKind: random.pick(['managed_service', 'on_prem']), zone: zone(), identity: identity() };
      case 4:
        return { address: address(), port: 0, workloadKind: 'External', workloadName: 'aws-s3', externalKind: 'cloud_provider', region: region() };
      case 5:
        return { address: '', port: 0 };
      default: {
        const namespace = `ns${random.int(0, 2)}`;
        const pod: FlowEndpoint = { address: address(), port: 0, namespace, pod: `p${i}`, workloadKind: random.pick(['Deployment', 'StatefulSet']), workloadName: `w${random.int(0, 6)}`, node: `node-${random.int(0, 5)}`, zone: zone(), region: region() };
        if (random.int(0, 9) === 0) pod.hostNetwork = true;
        if (random.int(0, 2) === 0) Object.assign(pod, { service: `svc${random.int(0, 2)}`, serviceNamespace: namespace }, random.int(0, 1) ? { serviceTopologyAware: true } : {});
        if (random.int(0, 1) === 0) pod.podLabels = random.pick(LABEL_SETS);
        if (random.int(0, 2) === 0) pod.namespaceLabels = { team: `t${random.int(0, 1)}` };
        if (random.int(0, 3) !== 0) pod.identity = identity();
        return pod;
      }
    }
  });
}

/**
 * `count` records between `ends` (each record with endpoint objects of its
 * own), any ports, transports tcp, udp, icmp, '132' and overflow (between
 * overflow ends), both families, every traffic class or none, some ignored.
 * No cost: columns carry none.
 */
export function randomFlows(random: SeededRandom, ends: readonly FlowEndpoint[], count: number): FlowRecord[] {
  const overflowEnd = ends.find((e) => e.address === '') ?? { address: '', port: 0 };
  return Array.from({ length: count }, (): FlowRecord => {
    const transport = random.pick(['tcp', 'tcp', 'udp', 'icmp', '132', OVERFLOW_TRANSPORT]);
    const overflow = transport === OVERFLOW_TRANSPORT;
    const src = overflow ? overflowEnd : random.pick(ends);
    const dst = overflow ? overflowEnd : random.pick(ends);
    const record: FlowRecord = {
      src: { ...src, port: overflow ? 0 : random.int(0, 65535) },
      dst: { ...dst, port: overflow ? 0 : random.pick([0, 53, 443, 5432, random.int(1, 65535)]) },
      transport,
      ipFamily: src.address.includes(':') || random.int(0, 9) === 0 ? 'ipv6' : 'ipv4',
      bytes: random.int(0, 100_000),
      packets: random.int(0, 100),
    };
    const trafficClass = random.int(0, TRAFFIC_CLASSES.length);
    if (trafficClass < TRAFFIC_CLASSES.length) record.trafficClass = TRAFFIC_CLASSES[trafficClass];
    if (random.int(0, 7) === 0) record.ignored = true;
    return record;
  });
}

/**
 * The records as columns laid out as a receiver and k8sattributes may leave
 * them: ends shuffled, some rows naming a second end of the same content (an
 * end appended for rows that need another naming), ends no row names, and
 * arrays longer than `length`. The records are left as they were.
 */
export function roughColumns(random: SeededRandom, records: readonly FlowRecord[], spareEnds: readonly FlowEndpoint[] = []): FlowColumns {
  const c = columnsFromRecords(records);
  // New end numbers: shuffled, with ends no row names in between.
  const tight = c.ends;
  const order = tight.map((_, e) => e);
  for (let e = order.length - 1; e > 0; e--) {
    const k = random.int(0, e);
    [order[e], order[k]] = [order[k]!, order[e]!];
  }
  const renumbered = new Uint32Array(order.length);
  c.ends = [];
  for (const e of order) {
    if (random.int(0, 3) === 0) c.ends.push(Object.freeze({ ...random.pick(spareEnds.length > 0 ? spareEnds : tight), port: 0 }));
    renumbered[e] = c.ends.push(tight[e]!) - 1;
  }
  // Some rows name a second end of the same content.
  const duplicate = new Map<number, number>();
  const endOf = (e: number): number => {
    if (random.int(0, 4) !== 0) return renumbered[e]!;
    let copy = duplicate.get(e);
    if (copy === undefined) duplicate.set(e, (copy = c.ends.push(Object.freeze({ ...tight[e]! })) - 1));
    return copy;
  };
  for (let i = 0; i < c.length; i++) {
    c.src[i] = endOf(c.src[i]!);
    c.dst[i] = endOf(c.dst[i]!);
  }
  // Spare capacity, holding values that mean nothing.
  const spare = random.int(0, 50);
  const columns = c as unknown as Record<string, unknown>;
  for (const [field, values] of Object.entries(columns)) {
    if (!ArrayBuffer.isView(values)) continue;
    const typed = values as Uint8Array;
    const longer = new (typed.constructor as Uint8ArrayConstructor)(typed.length + spare).fill(200);
    longer.set(typed);
    columns[field] = longer;
  }
  return c;
}

/** A batch of `records` in each form: plain records, and rough columns of a copy. */
export function bothForms(random: SeededRandom, records: readonly FlowRecord[], spareEnds: readonly FlowEndpoint[] = []): { records: { start: number; end: number; records: FlowRecord[] }; columns: ColumnBatch } {
  const copy = (r: FlowRecord): FlowRecord => ({ ...r, src: { ...r.src }, dst: { ...r.dst } });
  return { records: { start: 1, end: 2, records: records.map(copy) }, columns: new ColumnBatch(1, 2, roughColumns(random, records, spareEnds)) };
}
