/**
 * A configuration reload's swap from the running graph to the next one, built
 * by buildGraph from the running graph: nodes found in both are carried over
 * running (a receiver keeps its kernel tables, an exporter its counters and
 * totals), the running graph's other nodes are retired (shut down, flushed),
 * the next graph's other nodes are started. No batch is lost or sent twice:
 *
 * 1. Carried-over receivers are held (their relays keep new batches waiting)
 *    once what they already handed over has been consumed.
 * 2. Retired receivers, then retired processors, are shut down: their last
 *    batches flow through the running graph, which is still complete.
 * 3. Carried-over processors are held in turn, and retired exporters shut
 *    down and flushed: no batch can reach them any more.
 * 4. Every relay is pointed at the next graph; new exporters, processors and
 *    receivers are started, in that order (as at start-up).
 * 5. The caller releases the held relays: the waiting batches go to the next graph.
 *
 * A new component that fails to start fails the swap: the new components are
 * shut down again and the relays stay held, so the caller can put back what
 * was retired (another swap) before releasing them. A start interrupted by
 * the service's shutdown leaves the next graph to that shutdown.
 */
import type { Logger } from 'pino';
import type { LifecycleContext } from './component.ts';
import { connect, nodesOf } from './graph.ts';
import type { Graph, GraphNode } from './graph.ts';
import type { Relay } from './relay.ts';
import { startNodes, stopNodes, untilDeadline } from './stages.ts';

/** What a reload did, by node label. */
export interface ReloadChanges {
  /** Carried over running: same kind, ID (and pipeline) and configuration. */
  kept: string[];
  /** Same kind and ID (and pipeline), new configuration: shut down and started anew. */
  replaced: string[];
  added: string[];
  removed: string[];
}

export function changesBetween(from: Graph, to: Graph): ReloadChanges {
  const fromNodes = nodesOf(from);
  const toNodes = nodesOf(to);
  const fromKeys = new Set(fromNodes.map((n) => n.key));
  const toKeys = new Set(toNodes.map((n) => n.key));
  const kept = new Set(toNodes.filter((n) => fromNodes.includes(n)));
  return {
    kept: [...kept].map((n) => n.label),
    replaced: toNodes.filter((n) => !kept.has(n) && fromKeys.has(n.key)).map((n) => n.label),
    added: toNodes.filter((n) => !fromKeys.has(n.key)).map((n) => n.label),
    removed: fromNodes.filter((n) => !toKeys.has(n.key)).map((n) => n.label),
  };
}

export interface SwapContexts {
  /** For holding and for shutting down retired nodes: aborted at the reload's flush deadline or when the service shuts down. */
  stop: LifecycleContext;
  /** Where the swap stops waiting for retired nodes: a little after `stop`'s deadline (pipeline/lifecycle.ts, SHUTDOWN_GRACE_MS). */
  giveUp: AbortSignal;
  /** For starting new nodes: aborted when the service shuts down. */
  start: LifecycleContext;
}

export class GraphSwap {
  readonly #from: Graph;
  readonly #to: Graph;
  readonly #contexts: SwapContexts;
  readonly #logger: Logger;
  readonly #held = new Set<Relay>();

  constructor(from: Graph, to: Graph, contexts: SwapContexts, logger: Logger) {
    this.#from = from;
    this.#to = to;
    this.#contexts = contexts;
    this.#logger = logger;
  }

  /** Steps 1 to 4 above. @throws the failure of a new node to start, with the new nodes shut down again and the relays still held. */
  async run(): Promise<void> {
    const inFrom = new Set(nodesOf(this.#from));
    const inTo = new Set(nodesOf(this.#to));
    const retired = (nodes: GraphNode[]) => nodes.filter((n) => !inTo.has(n)).reverse();
    const fresh = (nodes: GraphNode[]) => nodes.filter((n) => !inFrom.has(n));
    const carried = (nodes: GraphNode[]) => nodes.filter((n) => inFrom.has(n));

    await this.#hold(carried(this.#to.receivers));
    await this.#retire(retired(this.#from.receivers));
    await this.#retire(retired(this.#from.processors));
    await this.#hold(carried(this.#to.processors));
    await this.#retire(retired(this.#from.exporters));

    connect(this.#to);
    const starting = [...fresh(this.#to.exporters), ...fresh(this.#to.processors), ...fresh(this.#to.receivers)];
    try {
      await startNodes(starting, this.#contexts.start, this.#logger);
    } catch (err) {
      // Interrupted by the service's shutdown: it stops every node of the next graph, in order.
      if (this.#contexts.start.signal.aborted) throw err;
      this.#logger.debug({ err }, 'reload: a new component failed to start; shutting the new ones down');
      await this.#retire([...starting].reverse());
      throw err;
    }
  }

  /** Step 5: lets the held batches go on to where the relays now point. */
  release(): void {
    for (const relay of this.#held) relay.release();
    this.#held.clear();
  }

  async #hold(nodes: GraphNode[]): Promise<void> {
    const relays = nodes.map((n) => n.output!);
    for (const relay of relays) this.#held.add(relay);
    await Promise.all(relays.map((relay) => relay.hold(this.#contexts.stop.signal)));
  }

  /** Shuts nodes down (flushing), stops waiting at the deadline, and takes their metrics off /metrics. */
  async #retire(nodes: GraphNode[]): Promise<void> {
    if (nodes.length === 0) return;
    const pending = new Set<GraphNode>();
    const outcome = await untilDeadline(stopNodes(nodes, this.#contexts.stop, this.#logger, pending), this.#contexts.giveUp);
    if (outcome === 'timeout') {
      this.#logger.error({ pending: [...pending].map((n) => n.label) }, 'reload: components did not stop before the deadline; going on without waiting for them');
    }
    for (const node of nodes) node.meter.close();
  }
}
