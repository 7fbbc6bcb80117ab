/**
 * What an end keeps when rolled up to pods, workloads or namespaces
 * (README.md has the table), and the key that tells rolled-up ends apart.
 */
import type { FlowEndpoint } from '../../pipeline/flow.ts';

export type AggregationLevel = 'pod' | 'workload' | 'namespace';

/** Separates fields in group keys; cannot occur in names, labels or addresses. */
const SEP = '\u0001';

/** True when k8sattributes named the endpoint (pod, workload, namespace or node). */
export function isNamed(ep: FlowEndpoint): boolean {
  return !!(ep.namespace || ep.pod || ep.workloadName || ep.node);
}

/** The endpoint as kept at `level` (README.md has the table), port always 0. */
export function rollUpEndpoint(ep: FlowEndpoint, level: AggregationLevel): FlowEndpoint {
  const out: FlowEndpoint = { address: '', port: 0 };
  if (!isNamed(ep)) {
    // Nobody behind it: the address is its only name at pod level; above that,
    // unnamed ends are grouped by zone/region (and, in the record, class).
    if (level === 'pod') out.address = ep.address;
  } else if (!ep.namespace && !ep.workloadName) {
    // A node's own address (or a hostNetwork end known only by its node): the node is its workload.
    out.node = ep.node;
  } else {
    if (ep.namespace) out.namespace = ep.namespace;
    if (level !== 'namespace') {
      if (level === 'pod' && ep.pod) out.pod = ep.pod;
      if (ep.workloadKind) out.workloadKind = ep.workloadKind;
      if (ep.workloadName) out.workloadName = ep.workloadName;
      if (level === 'pod' && ep.node) out.node = ep.node;
      if (ep.hostNetwork) out.hostNetwork = true;
    }
    // The Service and the chosen labels are kept at every level: cost by Service and by team is read from them.
    if (ep.service) out.service = ep.service;
    if (ep.serviceNamespace) out.serviceNamespace = ep.serviceNamespace;
    if (ep.serviceTopologyAware) out.serviceTopologyAware = true;
    // What an external block is: kept with its name, at every level (a handful of values).
    if (ep.externalKind) out.externalKind = ep.externalKind;
    if (ep.podLabels !== undefined) out.podLabels = ep.podLabels;
    if (ep.namespaceLabels !== undefined) out.namespaceLabels = ep.namespaceLabels;
  }
  if (ep.zone) out.zone = ep.zone;
  if (ep.region) out.region = ep.region;
  return out;
}

/** Group key of a rolled-up endpoint: every field it can hold. */
export function endpointKey(ep: FlowEndpoint): string {
  return [ep.address, ep.namespace, ep.pod, ep.workloadKind, ep.workloadName, ep.node, ep.zone, ep.region, ep.hostNetwork ? '1' : '', ep.service, ep.serviceNamespace, ep.serviceTopologyAware ? '1' : '', ep.externalKind, labelsKey(ep.podLabels), labelsKey(ep.namespaceLabels)].join(SEP);
}

/** Chosen labels in a group key, keys sorted (two agents may write them in another order). */
function labelsKey(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '';
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}\u0000${labels[k]}`)
    .join('\u0002');
}
