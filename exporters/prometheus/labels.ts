/**
 * Prometheus labels of a flow record: the record's attributes (pipeline/attributes.ts)
 * with `.` -> `_`, minus addresses and ports unless configured (they make a
 * series per client or per connection; flow logs carry them instead).
 */
import { DST_ATTRIBUTES, IGNORED, LABEL_PREFIXES, NETWORK_TYPE, SRC_ATTRIBUTES, TRAFFIC_CLASS, TRANSPORT, labelName } from '../../pipeline/attributes.ts';
import type { FlowEndpoint, FlowRecord } from '../../pipeline/flow.ts';
import type { PrometheusExporterConfig } from './config.ts';

export type FlowLabels = Record<string, string>;

type EndpointLabel = readonly [field: keyof FlowEndpoint, label: string];

const TRANSPORT_LABEL = labelName(TRANSPORT);
const NETWORK_TYPE_LABEL = labelName(NETWORK_TYPE);
export const TRAFFIC_CLASS_LABEL = labelName(TRAFFIC_CLASS);
const IGNORED_LABEL = labelName(IGNORED);

/** Prometheus label names of chosen pod/namespace labels (`k8s_dst_pod_label_app_kubernetes_io_name`), made once per key. */
const chosenLabelNames = new Map<string, string>();
function chosenLabelName(attribute: string): string {
  let name = chosenLabelNames.get(attribute);
  if (name === undefined) {
    name = labelName(attribute);
    // Keys are the few that k8sattributes is configured with; a bound keeps a stray producer from growing this.
    if (chosenLabelNames.size < 10_000) chosenLabelNames.set(attribute, name);
  }
  return name;
}

/**
 * Builds the label set of a record, and a key that is equal for two records
 * exactly when their label sets are equal. The key is cheap (no object is
 * made), so the hot path looks a series up by key and builds labels only for
 * a new series.
 */
export class FlowLabeler {
  readonly #src: readonly EndpointLabel[];
  readonly #dst: readonly EndpointLabel[];
  readonly #srcAddress = labelName(SRC_ATTRIBUTES[0][1]);
  readonly #dstAddress = labelName(DST_ATTRIBUTES[0][1]);
  readonly #addresses: PrometheusExporterConfig['address_labels'];

  constructor(options: Pick<PrometheusExporterConfig, 'address_labels' | 'port_labels'>) {
    const keep = (field: keyof FlowEndpoint) => field !== 'address' && (field !== 'port' || options.port_labels);
    this.#src = SRC_ATTRIBUTES.filter(([f]) => keep(f)).map(([f, n]) => [f, labelName(n)] as const);
    this.#dst = DST_ATTRIBUTES.filter(([f]) => keep(f)).map(([f, n]) => [f, labelName(n)] as const);
    this.#addresses = options.address_labels;
  }

  /** Values in a fixed order; an absent label and an empty one are the same (neither is written). */
  key(record: FlowRecord): string {
    return `${this.#endpointKey(record.src, this.#src)}\u0002${this.#endpointKey(record.dst, this.#dst)}\u0002${record.transport}\u0001${record.ipFamily}\u0001${record.trafficClass ?? ''}${record.ignored ? '\u0001i' : ''}`;
  }

  labels(record: FlowRecord): FlowLabels {
    const labels: FlowLabels = {};
    this.#putEndpoint(labels, record.src, this.#src, this.#srcAddress);
    putChosenLabels(labels, record.src, LABEL_PREFIXES.src);
    this.#putEndpoint(labels, record.dst, this.#dst, this.#dstAddress);
    putChosenLabels(labels, record.dst, LABEL_PREFIXES.dst);
    labels[TRANSPORT_LABEL] = record.transport;
    labels[NETWORK_TYPE_LABEL] = record.ipFamily;
    if (record.trafficClass) labels[TRAFFIC_CLASS_LABEL] = record.trafficClass;
    if (record.ignored) labels[IGNORED_LABEL] = 'true';
    return labels;
  }

  #withAddress(ep: FlowEndpoint): boolean {
    return this.#addresses === 'all' || (this.#addresses === 'unresolved' && !isResolved(ep));
  }

  #endpointKey(ep: FlowEndpoint, names: readonly EndpointLabel[]): string {
    let key = this.#withAddress(ep) ? ep.address : '';
    for (let i = 0; i < names.length; i++) key += `\u0001${labelValue(ep, names[i]![0]) ?? ''}`;
    if (ep.podLabels !== undefined) key += `\u0003${chosenLabelsKey(ep.podLabels)}`;
    if (ep.namespaceLabels !== undefined) key += `\u0004${chosenLabelsKey(ep.namespaceLabels)}`;
    return key;
  }

  #putEndpoint(labels: FlowLabels, ep: FlowEndpoint, names: readonly EndpointLabel[], addressLabel: string): void {
    if (this.#withAddress(ep) && ep.address) labels[addressLabel] = ep.address;
    for (const [field, name] of names) {
      const v = labelValue(ep, field);
      if (v !== undefined) labels[name] = v;
    }
  }
}

/**
 * Chosen labels in the key: each key and non-empty value, keys sorted, so
 * that two ends with the same labels written in another order (two agents'
 * OTLP) make one series.
 */
function chosenLabelsKey(labels: Readonly<Record<string, string>>): string {
  let key = '';
  for (const k of Object.keys(labels).sort()) if (labels[k]) key += `${k}\u0000${labels[k]}\u0001`;
  return key;
}

function putChosenLabels(labels: FlowLabels, ep: FlowEndpoint, prefixes: (typeof LABEL_PREFIXES)['src' | 'dst']): void {
  if (ep.podLabels !== undefined) for (const k in ep.podLabels) if (ep.podLabels[k]) labels[chosenLabelName(prefixes.podLabels + k)] = ep.podLabels[k]!;
  if (ep.namespaceLabels !== undefined) for (const k in ep.namespaceLabels) if (ep.namespaceLabels[k]) labels[chosenLabelName(prefixes.namespaceLabels + k)] = ep.namespaceLabels[k]!;
}

/** The label value of an endpoint field, undefined when the label is not written (unknown, empty, false, port 0). */
function labelValue(ep: FlowEndpoint, field: keyof FlowEndpoint): string | undefined {
  const v = ep[field];
  if (v === undefined || v === '' || v === false || v === 0) return undefined;
  return String(v);
}

/** True when processors gave the endpoint a Kubernetes identity (pod, workload or node). */
function isResolved(ep: FlowEndpoint): boolean {
  return ep.pod !== undefined || ep.workloadName !== undefined || ep.node !== undefined || ep.namespace !== undefined;
}
