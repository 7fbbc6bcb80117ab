/**
 * Starting and stopping sets of graph nodes, for the service's start-up and
 * shutdown and for a configuration reload: failures named the same way, and
 * a deadline that ends the wait for components that ignore it.
 */
import type { Logger } from 'pino';
import type { LifecycleContext } from './component.ts';
import { ZonetapError } from './errors.ts';
import type { GraphNode } from './graph.ts';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Starts `nodes` one after the other. The first failure is thrown naming the
 * component (`failed to start "netfilter" receiver: <cause>`), with the
 * cause's code when it has one and ZT_COMPONENT_START otherwise.
 */
export async function startNodes(nodes: readonly GraphNode[], context: LifecycleContext, logger: Logger): Promise<void> {
  for (const node of nodes) {
    if (context.signal.aborted) throw new ZonetapError('ZT_COMPONENT_START', `start-up interrupted before ${node.label} started`);
    try {
      await node.lifecycle.start(context);
    } catch (err) {
      const code = err instanceof ZonetapError ? err.code : 'ZT_COMPONENT_START';
      throw new ZonetapError(code, `failed to start ${node.label}: ${message(err)}`, { cause: err });
    }
    logger.debug({ component_id: node.id, kind: node.kind }, 'component started');
  }
}

/**
 * Shuts `nodes` down together, each flushing within the context's deadline.
 * Failures are logged; resolves false if any. `pending` holds the nodes still
 * stopping, for the caller to name at its deadline.
 */
export async function stopNodes(nodes: readonly GraphNode[], context: LifecycleContext, logger: Logger, pending = new Set<GraphNode>()): Promise<boolean> {
  let clean = true;
  await Promise.all(
    nodes.map(async (node) => {
      pending.add(node);
      try {
        await node.lifecycle.shutdown(context);
      } catch (err) {
        clean = false;
        logger.error({ err, component_id: node.id, kind: node.kind }, `failed to shut down ${node.label}`);
      } finally {
        pending.delete(node);
      }
    }),
  );
  return clean;
}

/** `work`'s outcome, or 'timeout' once `signal` aborts first (the deadline): a component that ignores it must not hold the caller. */
export function untilDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T | 'timeout'> {
  const deadline = new Promise<'timeout'>((resolve) => {
    if (signal.aborted) resolve('timeout');
    signal.addEventListener('abort', () => resolve('timeout'), { once: true });
  });
  return Promise.race([work, deadline]);
}
