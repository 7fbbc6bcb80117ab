/**
 * Source `static`: the directory is built from an inventory file and rebuilt
 * when the file changes (fs.watch on its directory, so editors that replace the
 * file are seen too). A reload that fails validation keeps the previous
 * inventory and logs every problem with file:line:column. Pods removed from
 * the file keep resolving for pod_delete_grace, as deleted pods do.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { canonicalAddress, CidrMap } from '../../net/index.ts';
import type { ChosenLabels } from './chosen-labels.ts';
import { AddressDirectory, EXTERNAL, IGNORE_ANNOTATION, newIdentity, type ExternalEntry } from './directory.ts';
import { parseInventory, readInventory, type Inventory } from './inventory.ts';

/** What the processor reads: a directory and the external blocks, swapped together on reload. */
export interface StaticView {
  directory: AddressDirectory;
  external(address: string): ExternalEntry | undefined;
  readonly hasExternal: boolean;
}

/** What pods and namespaces keep of their labels (pod_labels, namespace_labels). */
export interface InventoryLabels {
  pod: ChosenLabels;
  namespace: ChosenLabels;
}

export function buildView(inv: Inventory, graceMs: number, labels?: InventoryLabels): StaticView {
  const dir = new AddressDirectory(graceMs);
  for (const ns of inv.namespaces) dir.upsertNamespace(ns.name, labels?.namespace.pick(ns.labels), ns.annotations?.[IGNORE_ANNOTATION] === 'true');
  const extra = new Map<string, string[]>();
  for (const p of inv.pods) {
    if (!p.hostNetwork) continue;
    const list = extra.get(p.node) ?? [];
    for (const a of p.addresses) list.push(canonicalAddress(a));
    extra.set(p.node, list);
  }
  for (const n of inv.nodes) {
    const addresses = [...new Set([...n.addresses.map(canonicalAddress), ...(extra.get(n.name) ?? [])])];
    dir.upsertNode(n.name, n.zone, n.region, addresses, n.podCIDRs);
  }
  inv.pods.forEach((p, i) => {
    dir.upsertPod({
      namespace: p.namespace,
      name: p.name,
      uid: p.uid,
      nodeName: p.node,
      workload: p.workload ? dir.workload(p.namespace, p.workload.kind, p.workload.name) : undefined,
      hostNetwork: p.hostNetwork,
      addresses: p.addresses.map(canonicalAddress),
      created: i,
      labels: labels?.pod.pick(p.labels),
    });
  });
  const blocks = new CidrMap<ExternalEntry>();
  for (const e of inv.external) {
    const entry: ExternalEntry = { kind: EXTERNAL, identity: newIdentity(), name: e.name, zone: e.zone, region: e.region, externalKind: e.kind };
    for (const c of e.cidrs) blocks.set(c, entry);
  }
  return {
    directory: dir,
    hasExternal: blocks.size > 0,
    // Longest prefix wins, so a /28 inside a /16 names its own block.
    external: (address: string) => blocks.lookup(address),
  };
}

export class StaticSource {
  readonly #file: string;
  readonly #graceMs: number;
  readonly #logger: Logger;
  readonly #labels: InventoryLabels | undefined;
  #view: StaticView | undefined;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reloads = 0;
  #text = '';
  /** Called after each successful reload (tests wait on it). */
  onReload: ((view: StaticView) => void) | undefined;

  constructor(file: string, graceMs: number, logger: Logger, labels?: InventoryLabels) {
    this.#file = file;
    this.#graceMs = graceMs;
    this.#logger = logger;
    this.#labels = labels;
  }

  get view(): StaticView {
    if (!this.#view) throw new Error('static inventory not loaded: start() first');
    return this.#view;
  }

  get reloads(): number {
    return this.#reloads;
  }

  /** Loads the inventory (throws ZonetapError with every problem) and watches the file. */
  async start(): Promise<void> {
    this.#view = buildView(readInventory(this.#file), this.#graceMs, this.#labels);
    this.#text = this.#read() ?? '';
    const name = basename(this.#file);
    this.#watcher = watch(dirname(this.#file), { persistent: false }, (_event, changed) => {
      // `..data` is how Kubernetes swaps a mounted ConfigMap (a symlink flip), not a write to the file.
      if (changed !== null && changed !== name && !changed.startsWith('..')) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.reload(), 50);
    });
    this.#watcher.on('error', (err) => this.#logger.error({ err }, `k8sattributes: cannot watch inventory "${this.#file}" for changes`));
    const d = this.#view.directory;
    this.#logger.info({ file: this.#file, pods: d.podCount, nodes: d.nodeCount }, 'k8sattributes: static inventory loaded');
  }

  /** Re-reads the file; on a validation error keeps the current inventory. */
  reload(): void {
    if (!this.#watcher) return;
    const text = this.#read();
    if (text === undefined || text === this.#text) return;
    this.#text = text;
    try {
      const next = buildView(parseInventory(text, this.#file), this.#graceMs, this.#labels);
      if (this.#view) next.directory.carryOverDeleted(this.#view.directory, Date.now());
      this.#view = next;
      this.#reloads++;
      const d = this.#view.directory;
      this.#logger.info({ file: this.#file, pods: d.podCount, nodes: d.nodeCount }, 'k8sattributes: static inventory reloaded');
      this.onReload?.(this.#view);
    } catch (err) {
      this.#logger.error(`k8sattributes: keeping the previous inventory: ${(err as Error).message}`);
    }
  }

  #read(): string | undefined {
    try {
      return readFileSync(this.#file, 'utf8');
    } catch (err) {
      this.#logger.error(`k8sattributes: cannot read inventory "${this.#file}", keeping the previous one: ${(err as Error).message}`);
      return undefined;
    }
  }

  async shutdown(): Promise<void> {
    clearTimeout(this.#timer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
