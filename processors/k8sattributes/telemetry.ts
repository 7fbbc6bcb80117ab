/**
 * Self-telemetry of the k8sattributes processor (README "Self-telemetry"):
 * counters fed from each pass's Tally, mirrored in K8sAttributesStats for
 * tests, and gauges read at collection time. Every series carries
 * component_id.
 */
import type { Counter, Meter } from '@opentelemetry/api';
import type { Tally } from './attribution.ts';

/** Counts since start, mirrored in self-telemetry. */
export interface K8sAttributesStats {
  unresolvedSrcBytes: number;
  unresolvedDstBytes: number;
  /** Flows dropped on an agent because their source is on another node (forwarded through this one). */
  droppedForwardedFlows: number;
  droppedForwardedBytes: number;
  /** Flows dropped on an agent because locality cannot be told: an unknown source that may be another node's pod. */
  droppedUnknownSourceFlows: number;
  droppedUnknownSourceBytes: number;
  /** Flows dropped on a sidecar because they went from the pod to its own address, inside the pod. */
  droppedWithinPodFlows: number;
  /** Records held back because their source resolved to nothing yet. */
  heldRecords: number;
  /** Records not held, although their source was unknown, because the hold was full. */
  notHeldRecords: number;
  /** Held records whose source resolved while they waited. */
  lateResolvedRecords: number;
  /** Held records whose source still resolved to nothing after resolve_wait (or at shutdown). */
  unresolvedAfterWaitRecords: number;
  /** Records with an end in a namespace annotated zonetap.io/ignore (reduced, never dropped), and their bytes. */
  ignoredRecords: number;
  ignoredBytes: number;
  /** Per chosen label key: pods and namespaces (each list or watch event) whose value read `other` past max_label_values. */
  labelValuesOther: Record<string, number>;
}

export function newStats(): K8sAttributesStats {
  return {
    unresolvedSrcBytes: 0,
    unresolvedDstBytes: 0,
    droppedForwardedFlows: 0,
    droppedForwardedBytes: 0,
    droppedUnknownSourceFlows: 0,
    droppedUnknownSourceBytes: 0,
    droppedWithinPodFlows: 0,
    heldRecords: 0,
    notHeldRecords: 0,
    lateResolvedRecords: 0,
    unresolvedAfterWaitRecords: 0,
    ignoredRecords: 0,
    ignoredBytes: 0,
    labelValuesOther: {},
  };
}

/** What the gauges read. */
export interface Observed {
  readonly podCount: number;
  readonly ready: boolean;
  readonly heldNow: number;
  readonly heldBytesNow: number;
}

export class K8sAttributesTelemetry {
  readonly stats = newStats();
  readonly #id: string;
  readonly #unresolvedBytes: Counter;
  readonly #droppedFlows: Counter;
  readonly #droppedBytes: Counter;
  readonly #held: Counter;
  readonly #notHeld: Counter;
  readonly #lateResolved: Counter;
  readonly #unresolvedAfterWait: Counter;
  readonly #ignoredBytes: Counter;
  readonly #labelOther: Counter;

  constructor(meter: Meter, id: string, observed: Observed) {
    this.#id = id;
    const attrs = { component_id: id };
    this.#unresolvedBytes = meter.createCounter('zonetap.processor.k8sattributes.unresolved.bytes', {
      description: 'Bytes of flows whose source or destination address matched no pod, node or external block (attribute side: src|dst).',
      unit: 'By',
    });
    this.#droppedFlows = meter.createCounter('zonetap.processor.k8sattributes.dropped.flows', {
      description: 'Flows not counted here: on an agent, their source is not on this node (reason: forwarded|unknown_source); on a sidecar, they never left the pod (reason: within_pod).',
    });
    this.#droppedBytes = meter.createCounter('zonetap.processor.k8sattributes.dropped.bytes', {
      description: 'Bytes of the flows not counted here (reason: forwarded: counted by the node of their source; unknown_source: locality could not be told; within_pod: never left a sidecar\'s pod).',
      unit: 'By',
    });
    this.#held = meter.createCounter('zonetap.processor.k8sattributes.held.records', {
      description: 'Records held back (up to resolve_wait) because their source address resolved to nothing yet.',
    });
    this.#notHeld = meter.createCounter('zonetap.processor.k8sattributes.not_held.records', {
      description: 'Records with an unknown source that were not held because the hold was full (max_held_records, max_held_memory_mib): decided at once.',
    });
    this.#lateResolved = meter.createCounter('zonetap.processor.k8sattributes.late_resolved.records', {
      description: 'Held records whose source resolved while they waited.',
    });
    this.#unresolvedAfterWait = meter.createCounter('zonetap.processor.k8sattributes.unresolved_after_wait.records', {
      description: 'Held records whose source still resolved to nothing after resolve_wait (or at shutdown): placed by pod CIDR, passed on with their address, or dropped.',
    });
    this.#ignoredBytes = meter.createCounter('zonetap.processor.k8sattributes.ignored.bytes', {
      description: 'Bytes of flows with an end in a namespace annotated zonetap.io/ignore: "true"; exported reduced to the namespace, marked zonetap.ignored.',
      unit: 'By',
    });
    this.#labelOther = meter.createCounter('zonetap.processor.k8sattributes.label.other', {
      description: 'Pods and namespaces (list or watch events) whose value of a chosen label (attribute label) read "other" because the label already had max_label_values values.',
    });
    meter
      .createObservableGauge('zonetap.processor.k8sattributes.pods', { description: 'Pods known to k8sattributes (deleted pods in their grace period excluded).' })
      .addCallback((r) => r.observe(observed.podCount, attrs));
    meter
      .createObservableGauge('zonetap.processor.k8sattributes.ready', {
        description: '1 once pods and nodes have been listed and while every watch has heard from the API server within unhealthy_after (always 1 for source: static).',
      })
      .addCallback((r) => r.observe(observed.ready ? 1 : 0, attrs));
    meter
      .createObservableGauge('zonetap.processor.k8sattributes.held', { description: 'Records held now, waiting for their source to resolve.' })
      .addCallback((r) => r.observe(observed.heldNow, attrs));
    meter
      .createObservableGauge('zonetap.processor.k8sattributes.held.memory.bytes', { description: 'Estimated heap bytes of the records held now.', unit: 'By' })
      .addCallback((r) => r.observe(observed.heldBytesNow, attrs));
  }

  /** One pod or namespace whose value of chosen label `key` was replaced by `other`. */
  labelOther(key: string, side: 'pod' | 'namespace'): void {
    const name = `${side}:${key}`;
    this.stats.labelValuesOther[name] = (this.stats.labelValuesOther[name] ?? 0) + 1;
    this.#labelOther.add(1, { component_id: this.#id, label: key, object: side });
  }

  /** Adds what one pass counted. */
  add(t: Tally): void {
    const st = this.stats;
    const id = this.#id;
    if (t.unresolvedSrcBytes) {
      st.unresolvedSrcBytes += t.unresolvedSrcBytes;
      this.#unresolvedBytes.add(t.unresolvedSrcBytes, { component_id: id, side: 'src' });
    }
    if (t.unresolvedDstBytes) {
      st.unresolvedDstBytes += t.unresolvedDstBytes;
      this.#unresolvedBytes.add(t.unresolvedDstBytes, { component_id: id, side: 'dst' });
    }
    if (t.forwardedFlows) {
      st.droppedForwardedFlows += t.forwardedFlows;
      st.droppedForwardedBytes += t.forwardedBytes;
      this.#droppedFlows.add(t.forwardedFlows, { component_id: id, reason: 'forwarded' });
      this.#droppedBytes.add(t.forwardedBytes, { component_id: id, reason: 'forwarded' });
    }
    if (t.unknownSourceFlows) {
      st.droppedUnknownSourceFlows += t.unknownSourceFlows;
      st.droppedUnknownSourceBytes += t.unknownSourceBytes;
      this.#droppedFlows.add(t.unknownSourceFlows, { component_id: id, reason: 'unknown_source' });
      this.#droppedBytes.add(t.unknownSourceBytes, { component_id: id, reason: 'unknown_source' });
    }
    if (t.withinPodFlows) {
      st.droppedWithinPodFlows += t.withinPodFlows;
      this.#droppedFlows.add(t.withinPodFlows, { component_id: id, reason: 'within_pod' });
      this.#droppedBytes.add(t.withinPodBytes, { component_id: id, reason: 'within_pod' });
    }
    if (t.heldRecords) {
      st.heldRecords += t.heldRecords;
      this.#held.add(t.heldRecords, { component_id: id });
    }
    if (t.notHeldRecords) {
      st.notHeldRecords += t.notHeldRecords;
      this.#notHeld.add(t.notHeldRecords, { component_id: id });
    }
    if (t.lateResolvedRecords) {
      st.lateResolvedRecords += t.lateResolvedRecords;
      this.#lateResolved.add(t.lateResolvedRecords, { component_id: id });
    }
    if (t.ignoredRecords) {
      st.ignoredRecords += t.ignoredRecords;
      st.ignoredBytes += t.ignoredBytes;
      this.#ignoredBytes.add(t.ignoredBytes, { component_id: id });
    }
    if (t.unresolvedAfterWaitRecords) {
      st.unresolvedAfterWaitRecords += t.unresolvedAfterWaitRecords;
      this.#unresolvedAfterWait.add(t.unresolvedAfterWaitRecords, { component_id: id });
    }
  }
}
