/**
 * The one mapping between FlowRecord fields and wire attribute names, shared by
 * flow logs, OTLP (both directions) and Prometheus labels (`.` -> `_`).
 * Names follow OpenTelemetry eBPF Instrumentation's network metrics where one exists.
 */
import type { FlowEndpoint, FlowRecord, IpFamily, TrafficClass } from './flow.ts';

export type AttributeValue = string | number | boolean;
export type FlowAttributes = Record<string, AttributeValue>;

/** Endpoint field -> attribute name, per side. Order is the order keys are written. */
const ENDPOINT_ATTRIBUTES = (side: 'src' | 'dst') =>
  [
    ['address', `${side}.address`],
    ['port', `${side}.port`],
    ['namespace', `k8s.${side}.namespace`],
    ['pod', `k8s.${side}.name`],
    ['workloadName', `k8s.${side}.owner.name`],
    ['workloadKind', `k8s.${side}.owner.type`],
    ['node', `k8s.${side}.node.name`],
    ['hostNetwork', `k8s.${side}.host_network`],
    ['zone', `${side}.zone`],
    ['region', `${side}.region`],
    ['service', `k8s.${side}.service.name`],
    ['serviceNamespace', `k8s.${side}.service.namespace`],
    ['serviceTopologyAware', `k8s.${side}.service.topology_aware`],
    ['externalKind', `zonetap.${side}.external.kind`],
  ] as const satisfies ReadonlyArray<readonly [keyof FlowEndpoint, string]>;

export const SRC_ATTRIBUTES = ENDPOINT_ATTRIBUTES('src');
export const DST_ATTRIBUTES = ENDPOINT_ATTRIBUTES('dst');
export const TRANSPORT = 'transport';
export const NETWORK_TYPE = 'network.type';
export const TRAFFIC_CLASS = 'zonetap.traffic.class';
export const COST_USD = 'zonetap.cost.usd';
/** `true` on records with an end in a namespace that opted out (`zonetap.io/ignore: "true"`). */
export const IGNORED = 'zonetap.ignored';

/**
 * Prefixes of the chosen pod and namespace labels of each end, as the
 * Collector's k8sattributes names them (`k8s.pod.label.<key>`), with the
 * side: `k8s.dst.pod.label.team`, `k8s.src.namespace.label.team`.
 */
export const LABEL_PREFIXES = {
  src: { podLabels: 'k8s.src.pod.label.', namespaceLabels: 'k8s.src.namespace.label.' },
  dst: { podLabels: 'k8s.dst.pod.label.', namespaceLabels: 'k8s.dst.namespace.label.' },
} as const;

/** The end and label field an attribute name of a chosen label belongs to, or undefined when it is not one. */
export function labelAttribute(name: string): { side: 'src' | 'dst'; field: 'podLabels' | 'namespaceLabels'; key: string } | undefined {
  for (const side of ['src', 'dst'] as const) {
    for (const field of ['podLabels', 'namespaceLabels'] as const) {
      const prefix = LABEL_PREFIXES[side][field];
      if (name.startsWith(prefix) && name.length > prefix.length) return { side, field, key: name.slice(prefix.length) };
    }
  }
  return undefined;
}

/** Every attribute name a flow can carry (not bytes/packets/start/end). */
export const FLOW_ATTRIBUTE_NAMES: readonly string[] = [
  ...SRC_ATTRIBUTES.map(([, n]) => n),
  ...DST_ATTRIBUTES.map(([, n]) => n),
  TRANSPORT,
  NETWORK_TYPE,
  TRAFFIC_CLASS,
  IGNORED,
];

function putEndpoint(out: FlowAttributes, ep: FlowEndpoint, names: typeof SRC_ATTRIBUTES | typeof DST_ATTRIBUTES): void {
  for (const [field, name] of names) {
    const v = ep[field];
    if (v === undefined || v === '' || v === false) continue;
    if (field === 'port' && v === 0) continue;
    out[name] = v;
  }
}

function putLabels(out: FlowAttributes, ep: FlowEndpoint, prefixes: (typeof LABEL_PREFIXES)['src' | 'dst']): void {
  if (ep.podLabels !== undefined) for (const key in ep.podLabels) out[prefixes.podLabels + key] = ep.podLabels[key]!;
  if (ep.namespaceLabels !== undefined) for (const key in ep.namespaceLabels) out[prefixes.namespaceLabels + key] = ep.namespaceLabels[key]!;
}

/** Attributes of a record, absent where unknown; bytes, packets and cost are not attributes. */
export function recordAttributes(r: FlowRecord): FlowAttributes {
  const out: FlowAttributes = {};
  putEndpoint(out, r.src, SRC_ATTRIBUTES);
  putLabels(out, r.src, LABEL_PREFIXES.src);
  putEndpoint(out, r.dst, DST_ATTRIBUTES);
  putLabels(out, r.dst, LABEL_PREFIXES.dst);
  out[TRANSPORT] = r.transport;
  out[NETWORK_TYPE] = r.ipFamily;
  if (r.trafficClass) out[TRAFFIC_CLASS] = r.trafficClass;
  if (r.ignored) out[IGNORED] = true;
  return out;
}

/**
 * A canonical key of recordAttributes(r), built without it: two records get
 * the same key exactly when their attribute sets are equal (chosen labels in
 * any order). For stores that look a series up per record and build the
 * attributes only for a new one (exporters/otlp): a string, no object.
 */
export function recordKey(r: FlowRecord): string {
  let key = endpointKey(r.src, SRC_ATTRIBUTES);
  key += '\u0004';
  key += endpointKey(r.dst, DST_ATTRIBUTES);
  return `${key}\u0004${r.transport}\u0001${r.ipFamily}\u0001${r.trafficClass ?? ''}\u0001${r.ignored ? 't' : ''}`;
}

function endpointKey(ep: FlowEndpoint, names: typeof SRC_ATTRIBUTES | typeof DST_ATTRIBUTES): string {
  let key = '';
  for (let i = 0; i < names.length; i++) {
    // What putEndpoint leaves out is '' here; hostNetwork is the one boolean.
    const v = ep[names[i]![0]];
    key += v === undefined || v === '' || v === false || v === 0 ? '\u0001' : v === true ? 't\u0001' : `${v}\u0001`;
  }
  if (ep.podLabels !== undefined) key += `\u0002${labelsKey(ep.podLabels)}`;
  if (ep.namespaceLabels !== undefined) key += `\u0003${labelsKey(ep.namespaceLabels)}`;
  return key;
}

/** Chosen labels, keys sorted: putLabels writes every one, empty values too. */
function labelsKey(labels: Readonly<Record<string, string>>): string {
  let key = '';
  for (const k of Object.keys(labels).sort()) key += `${k}\u0000${labels[k]}\u0001`;
  return key;
}

function takeEndpoint(attrs: Readonly<Record<string, unknown>>, names: typeof SRC_ATTRIBUTES | typeof DST_ATTRIBUTES): FlowEndpoint {
  const ep: FlowEndpoint = { address: '', port: 0 };
  for (const [field, name] of names) {
    const v = attrs[name];
    if (v === undefined || v === null) continue;
    if (field === 'port') ep.port = Number(v);
    else if (field === 'hostNetwork' || field === 'serviceTopologyAware') ep[field] = v === true || v === 'true';
    else (ep as unknown as Record<string, unknown>)[field] = String(v);
  }
  return ep;
}

/** Inverse of recordAttributes; bytes and packets are supplied by the caller. */
export function attributesToRecord(attrs: Readonly<Record<string, unknown>>, bytes: number, packets: number): FlowRecord {
  const src = takeEndpoint(attrs, SRC_ATTRIBUTES);
  const r: FlowRecord = {
    src,
    dst: takeEndpoint(attrs, DST_ATTRIBUTES),
    transport: attrs[TRANSPORT] === undefined ? 'unknown' : String(attrs[TRANSPORT]),
    ipFamily: (attrs[NETWORK_TYPE] as IpFamily | undefined) ?? (src.address.includes(':') ? 'ipv6' : 'ipv4'),
    bytes,
    packets,
  };
  if (attrs[TRAFFIC_CLASS] !== undefined) r.trafficClass = attrs[TRAFFIC_CLASS] as TrafficClass;
  if (attrs[IGNORED] === true || attrs[IGNORED] === 'true') r.ignored = true;
  for (const name in attrs) {
    const label = labelAttribute(name);
    if (label === undefined || attrs[name] === undefined || attrs[name] === null) continue;
    const ep = r[label.side];
    ep[label.field] = { ...ep[label.field], [label.key]: String(attrs[name]) };
  }
  return r;
}

/** Prometheus label name for an attribute name. */
export function labelName(attribute: string): string {
  return attribute.replace(/[^a-zA-Z0-9_]/g, '_');
}
