/** Config of the k8sattributes processor: schema, defaults and cross-field checks. */
import { z } from 'zod';
import { duration, existingFile } from '../../pipeline/schema.ts';
import { externalOptions } from './external-config.ts';

/** The longest resolve_wait: flows are held in memory and delayed this long at most. */
const MAX_RESOLVE_WAIT_MS = 600_000;
/** pod_labels and namespace_labels together: 28 attributes + 2 per label stay within the otlp receiver's default 64. */
const MAX_CHOSEN_LABELS = 16;
/** A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of up to 63 characters. */
const LABEL_KEY = /^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** A list of label keys, each valid and none repeated nor equal to another once made a Prometheus label. */
function labelKeys(option: string) {
  return z
    .array(z.string({ error: 'expected a label key like team or app.kubernetes.io/name' }).regex(LABEL_KEY, 'expected a Kubernetes label key like team or app.kubernetes.io/name'), { error: `expected a list of label keys, like ${option}: [team, app.kubernetes.io/name]` })
    .superRefine((keys, ctx) => {
      const seen = new Map<string, string>();
      keys.forEach((key, i) => {
        const label = sanitized(key);
        const earlier = seen.get(label);
        if (earlier !== undefined) {
          ctx.addIssue({ code: 'custom', path: [i], message: earlier === key ? `"${key}" is listed twice` : `"${key}" and "${earlier}" both become the Prometheus label suffix "${label}": keep one` });
        }
        seen.set(label, key);
      });
    });
}

export const configSchema = z
  .strictObject({
    /** Where pods and nodes come from: the Kubernetes API or a static inventory file. */
    source: z.enum(['kubernetes', 'static'], { error: 'expected "kubernetes" or "static"' }).default('kubernetes'),
    /** Kubeconfig file; default: in-cluster, then $KUBECONFIG, then ~/.kube/config. */
    kubeconfig: existingFile().optional(),
    /** Inventory YAML (source: static). Reloaded when it changes. */
    inventory: existingFile().optional(),
    /** Set on agents: keep only flows whose source is on this node. */
    node_name: z.string({ error: 'expected a node name' }).min(1, 'node_name must not be empty').optional(),
    /**
     * Set on sidecars (downward API): this pod, whose network namespace the
     * flows were counted in. Every flow's source is this pod, by name.
     */
    pod_name: z.string({ error: 'expected a pod name' }).min(1, 'pod_name must not be empty').optional(),
    pod_namespace: z.string({ error: 'expected a namespace' }).min(1, 'pod_namespace must not be empty').optional(),
    /** `all`: watch every pod (names both ends); `local`: only this node's pods (needs node_name). */
    resolve: z.enum(['all', 'local'], { error: 'expected "all" or "local"' }).default('all'),
    /** A deleted pod's addresses keep resolving to it for this long (unless a new pod takes them). */
    pod_delete_grace: duration().default(120_000),
    /** How long start() waits for the first list of pods and nodes before starting unready. */
    sync_timeout: duration().default(30_000),
    /**
     * Flows whose source address resolves to nothing yet (a pod whose watch
     * event has not arrived) are held this long and resolved again before
     * they are placed by pod CIDR, passed on unresolved or dropped.
     */
    resolve_wait: duration().default(20_000),
    /** At most this many records are held; past it a record is decided at once. 0: hold nothing. */
    max_held_records: z.number({ error: 'expected a whole number of records, like 100000' }).int('expected a whole number of records, like 100000').min(0, 'max_held_records must not be negative').default(100_000),
    /** At most this much memory (MiB, estimated per record) is held; past it a record is decided at once. */
    max_held_memory_mib: z.number({ error: 'expected a number of MiB, like 32' }).min(0, 'max_held_memory_mib must not be negative').default(32),
    /** source kubernetes: not ready once an informer has had no list, event or bookmark from the API server for this long. */
    unhealthy_after: duration().default(60_000),
    /** Named blocks outside the cluster and the providers' range files (external-config.ts). */
    ...externalOptions,
    /** Pod labels copied onto both ends of a flow (`k8s.<side>.pod.label.<key>`), e.g. team, app.kubernetes.io/name. */
    pod_labels: labelKeys('pod_labels').default([]),
    /** Namespace labels copied onto both ends of a flow (`k8s.<side>.namespace.label.<key>`). */
    namespace_labels: labelKeys('namespace_labels').default([]),
    /** Distinct values kept per chosen label; any other value reads `other` (counted). */
    max_label_values: z
      .number({ error: 'expected a whole number of values, like 100' })
      .int('expected a whole number of values, like 100')
      .min(1, 'max_label_values must be at least 1')
      .max(10_000, 'max_label_values must be at most 10000: each value multiplies the series of every metric that carries the label')
      .default(100),
  })
  .superRefine((c, ctx) => {
    if (c.pod_labels.length + c.namespace_labels.length > MAX_CHOSEN_LABELS) {
      ctx.addIssue({
        code: 'custom',
        path: ['pod_labels'],
        message: `pod_labels and namespace_labels together list ${c.pod_labels.length + c.namespace_labels.length} labels, at most ${MAX_CHOSEN_LABELS}: each is two attributes on every flow (both ends), and a gateway's otlp receiver takes 64 attributes a point by default`,
      });
    }
    if (c.source === 'static' && !c.inventory) {
      ctx.addIssue({ code: 'custom', path: ['inventory'], message: 'source: static needs an inventory file (inventory: path/to/inventory.yaml)' });
    }
    if (c.source === 'kubernetes' && c.inventory) {
      ctx.addIssue({ code: 'custom', path: ['inventory'], message: 'inventory is only used with source: static' });
    }
    if (c.source === 'static' && c.kubeconfig) {
      ctx.addIssue({ code: 'custom', path: ['kubeconfig'], message: 'kubeconfig is only used with source: kubernetes' });
    }
    if ((c.pod_name === undefined) !== (c.pod_namespace === undefined)) {
      const missing = c.pod_name === undefined ? 'pod_name' : 'pod_namespace';
      ctx.addIssue({ code: 'custom', path: [missing], message: `pod_name and pod_namespace go together (a sidecar's own pod): set ${missing} too, e.g. ${missing}: \${env:${missing.toUpperCase()}}` });
    }
    if (c.pod_name !== undefined && c.node_name !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['node_name'], message: 'node_name is for agents and pod_name for sidecars: set one of them' });
    }
    if (c.resolve_wait > MAX_RESOLVE_WAIT_MS) {
      ctx.addIssue({ code: 'custom', path: ['resolve_wait'], message: `resolve_wait must be at most 10m: held flows wait in memory and reach the exporters that much later` });
    } else if (c.resolve_wait > c.pod_delete_grace) {
      ctx.addIssue({
        code: 'custom',
        path: ['resolve_wait'],
        message: 'resolve_wait must not be longer than pod_delete_grace: a short-lived pod deleted right after its flows must still resolve when they are resolved again',
      });
    }
    if (c.unhealthy_after < 1000) {
      ctx.addIssue({ code: 'custom', path: ['unhealthy_after'], message: 'unhealthy_after must be at least 1s: watches are reopened every unhealthy_after/2' });
    }
    if (c.resolve === 'local' && !c.node_name) {
      ctx.addIssue({ code: 'custom', path: ['resolve'], message: 'resolve: local watches only this node\'s pods and needs node_name (e.g. node_name: ${env:NODE_NAME})' });
    }
  });

/** The Prometheus label a chosen key becomes, minus its prefix: two keys that give the same one would merge. */
function sanitized(key: string): string {
  return key.replace(/[^a-zA-Z0-9_]/g, '_');
}

export type K8sAttributesConfig = z.output<typeof configSchema>;
