/** Config of the k8sattributes processor: schema, defaults and cross-field checks. */
import { z } from 'zod';
import { duration, existingFile } from '../../pipeline/schema.ts';
import { externalOptions } from './external-config.ts';

/** The longest resolve_wait: flows are held in memory and delayed this long at most. */
const MAX_RESOLVE_WAIT_MS = 600_000;

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
  })
  .superRefine((c, ctx) => {
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

export type K8sAttributesConfig = z.output<typeof configSchema>;
