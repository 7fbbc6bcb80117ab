/**
 * The static inventory (source: static): nodes, pods and external blocks in a
 * YAML file (format: config/inventory.example.yaml). Parsed with the yaml
 * package's LineCounter so that every problem is reported as file:line:column,
 * all at once.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import { z } from 'zod';
import { canonicalAddress, cidrsOverlap, parseCidr, type Cidr } from '../../net/index.ts';
import { ZonetapError } from '../../pipeline/errors.ts';
import { externalKind } from './external-config.ts';

const address = z.string({ error: 'expected an IP address' }).refine((a) => isIP(a) !== 0, { error: (i) => `invalid IP address "${String(i.input)}"` });
const name = (what: string) => z.string({ error: `expected a ${what}` }).min(1, `${what} must not be empty`);
const workloadKinds = ['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job', 'ReplicaSet', 'Pod'] as const;

const cidr = (example: string) =>
  z.string({ error: `expected a CIDR block like ${example}` }).transform((text, ctx) => {
    const c = parseCidr(text);
    if (!c) {
      ctx.addIssue({ code: 'custom', message: `invalid CIDR "${text}": expected address/prefix, like ${example} or fd00::/8` });
      return z.NEVER;
    }
    return c;
  });

const labels = z.record(z.string(), z.string({ error: 'expected a text value (quote numbers and true/false)' }), { error: 'expected a map of label: value' });

const inventorySchema = z.strictObject({
  nodes: z
    .array(
      z.strictObject({
        name: name('node name'),
        zone: name('zone').optional(),
        region: name('region').optional(),
        addresses: z.array(address).default([]),
        /** As the node's spec.podCIDRs: its pods' addresses come from these blocks. */
        podCIDRs: z.array(cidr('10.244.1.0/24')).default([]),
      }),
    )
    .default([]),
  pods: z
    .array(
      z.strictObject({
        namespace: name('namespace'),
        name: name('pod name'),
        workload: z.strictObject({ kind: z.enum(workloadKinds, { error: `expected one of ${workloadKinds.join(', ')}` }), name: name('workload name') }).optional(),
        node: name('node name'),
        /** metadata.uid: names the pod's flows from the cgroup receiver (a hostNetwork pod's too). */
        uid: z.string({ error: 'expected a pod UID like 3f1c2b9a-8d4e-4f1a-9b2c-0e5d6f7a8b9c' }).regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'expected a pod UID like 3f1c2b9a-8d4e-4f1a-9b2c-0e5d6f7a8b9c').optional(),
        addresses: z.array(address).default([]),
        hostNetwork: z.boolean({ error: 'expected true or false' }).default(false),
        /** metadata.labels: what k8sattributes' pod_labels copy. */
        labels: labels.optional(),
      }),
    )
    .default([]),
  /** Namespaces with labels (namespace_labels) or opted out (zonetap.io/ignore); others need not be listed. */
  namespaces: z
    .array(
      z.strictObject({
        name: name('namespace'),
        labels: labels.optional(),
        annotations: z.record(z.string(), z.string({ error: 'expected a text value (quote "true")' }), { error: 'expected a map of annotation: value' }).optional(),
      }),
    )
    .default([]),
  external: z
    .array(
      z.strictObject({
        name: name('name'),
        cidrs: z.array(cidr('10.200.0.0/24')).min(1, 'an external block needs at least one CIDR'),
        zone: name('zone').optional(),
        region: name('region').optional(),
        kind: externalKind.optional(),
      }),
    )
    .default([]),
});

export type Inventory = z.output<typeof inventorySchema>;
export type InventoryExternal = Inventory['external'][number] & { cidrs: Cidr[] };

/** line:col of the node at `path`; of the key itself when `atKey` (unknown keys). */
function position(doc: Document, counter: LineCounter, path: readonly PropertyKey[], atKey = false): string {
  if (atKey && path.length > 0) {
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1) as (string | number)[], true);
    if (isMap(parent)) {
      const pair = parent.items.find((i) => isScalar(i.key) && i.key.value === path[path.length - 1]);
      if (pair && isNode(pair.key) && pair.key.range) {
        const { line, col } = counter.linePos(pair.key.range[0]);
        return `${line}:${col}`;
      }
    }
  }
  // Walk up until a node exists (a missing key is reported at its parent).
  for (let p = [...path]; ; p = p.slice(0, -1)) {
    const node = p.length === 0 ? doc.contents : doc.getIn(p as (string | number)[], true);
    if (isNode(node) && node.range) {
      const { line, col } = counter.linePos(node.range[0]);
      return `${line}:${col}`;
    }
    if (p.length === 0) return '1:1';
  }
}

function pathText(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/**
 * Parses and validates the inventory text. Throws ZonetapError
 * (ZT_INVENTORY_INVALID) listing every problem as `file:line:col: path: message`.
 */
export function parseInventory(text: string, file: string): Inventory {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false });
  if (doc.errors.length) {
    const lines = doc.errors.map((e) => {
      const { line, col } = counter.linePos(e.pos[0]);
      return `${file}:${line}:${col}: ${e.message.split('\n')[0]}`;
    });
    throw new ZonetapError('ZT_INVENTORY_INVALID', `invalid inventory ${file}:\n  ${lines.join('\n  ')}`);
  }
  const parsed = inventorySchema.safeParse(doc.toJS() ?? {});
  const problems: string[] = [];
  const at = (path: readonly PropertyKey[], message: string, atKey = false) =>
    problems.push(`${file}:${position(doc, counter, path, atKey)}: ${pathText(path) || '(top)'}: ${message}`);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      if (keys.length) for (const k of keys) at([...issue.path, k], `unknown key "${k}" (expected ${expectedKeys(issue.path)})`, true);
      else at(issue.path, issue.message);
    }
  } else {
    const inv = parsed.data;
    const nodes = new Map<string, number>();
    inv.nodes.forEach((n, i) => {
      if (nodes.has(n.name)) at(['nodes', i, 'name'], `node "${n.name}" is listed twice (first at nodes[${nodes.get(n.name)}])`);
      else nodes.set(n.name, i);
    });
    const owners = new Map<string, { path: (string | number)[]; what: string; node?: string }>();
    const claim = (addr: string, path: (string | number)[], what: string, node: string | undefined, hostNetwork: boolean) => {
      const key = canonicalAddress(addr);
      const first = owners.get(key);
      if (!first) {
        owners.set(key, { path, what, node });
        return;
      }
      // A hostNetwork pod shares its own node's addresses: not a duplicate.
      if (hostNetwork && first.what.startsWith('node ') && first.node === node) return;
      at(path, `address ${addr} is listed twice: by ${what} and by ${first.what} (${pathText(first.path)} at line ${position(doc, counter, first.path)})`);
    };
    inv.nodes.forEach((n, i) => n.addresses.forEach((a, j) => claim(a, ['nodes', i, 'addresses', j], `node ${n.name}`, n.name, false)));
    // Pod CIDRs place an address on one node: two nodes' blocks must not overlap.
    const podCidrs: Array<{ cidr: Cidr; node: string; path: (string | number)[] }> = [];
    inv.nodes.forEach((n, i) =>
      n.podCIDRs.forEach((c, j) => {
        const path = ['nodes', i, 'podCIDRs', j];
        const other = podCidrs.find((o) => o.node !== n.name && cidrsOverlap(o.cidr, c));
        if (other) at(path, `pod CIDR ${c.text} of node ${n.name} overlaps ${other.cidr.text} of node ${other.node} (${pathText(other.path)} at line ${position(doc, counter, other.path)})`);
        podCidrs.push({ cidr: c, node: n.name, path });
      }),
    );
    const pods = new Set<string>();
    inv.pods.forEach((p, i) => {
      const id = `${p.namespace}/${p.name}`;
      if (pods.has(id)) at(['pods', i, 'name'], `pod ${id} is listed twice`);
      pods.add(id);
      if (!nodes.has(p.node)) {
        at(['pods', i, 'node'], `pod ${id} is on unknown node "${p.node}": list it under nodes (known: ${[...nodes.keys()].join(', ') || 'none'})`);
      }
      p.addresses.forEach((a, j) => claim(a, ['pods', i, 'addresses', j], `pod ${id}`, p.node, p.hostNetwork));
    });
    if (problems.length === 0) return inv;
  }
  const line = (p: string) => Number(/:(\d+):\d+: /.exec(p.slice(file.length))?.[1] ?? 0);
  problems.sort((a, b) => line(a) - line(b));
  throw new ZonetapError('ZT_INVENTORY_INVALID', `invalid inventory ${file}:\n  ${problems.join('\n  ')}`);
}

function expectedKeys(path: readonly PropertyKey[]): string {
  const top = path[0];
  if (top === undefined) return 'nodes, namespaces, pods, external';
  if (top === 'namespaces') return 'name, labels, annotations';
  if (top === 'nodes') return 'name, zone, region, addresses, podCIDRs';
  if (top === 'pods') return path.length > 2 ? 'kind, name' : 'namespace, name, workload, node, uid, addresses, hostNetwork, labels';
  return 'name, cidrs, zone, region';
}

/** Reads and validates an inventory file. */
export function readInventory(file: string): Inventory {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ZonetapError('ZT_INVENTORY_INVALID', `cannot read inventory "${file}": ${(err as Error).message}`, { cause: err });
  }
  return parseInventory(text, file);
}
