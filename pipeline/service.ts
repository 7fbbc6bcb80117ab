/**
 * The Service runs one validated configuration: telemetry server first (so
 * /healthz answers while components start), then exporters -> processors ->
 * receivers; shutdown in reverse under a deadline, so data drains downstream.
 * reload() swaps in a new configuration while running (reload.ts).
 */
import type { Logger } from 'pino';
import type { LifecycleContext } from './component.ts';
import type { ServiceConfig } from './config/types.ts';
import { ZonetapError } from './errors.ts';
import { shutdownContext } from './lifecycle.ts';
import { buildGraph, connect, emptyGraph, nodesOf } from './graph.ts';
import type { Graph, GraphDeps, GraphNode } from './graph.ts';
import { createLogger } from './logging.ts';
import type { FactoryRegistry } from './registry.ts';
import { GraphSwap, changesBetween } from './reload.ts';
import type { ReloadChanges, SwapContexts } from './reload.ts';
import { startNodes, stopNodes, untilDeadline } from './stages.ts';
import { SelfTelemetry } from './telemetry/metrics.ts';
import { TelemetryServer } from './telemetry/server.ts';
import { VERSION } from './version.ts';

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

export interface ServiceOptions {
  /** Default: a pino logger on stderr at service.telemetry.logs.level. */
  logger?: Logger;
  /** How long shutdown() waits for components before giving up on them. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Serve process_* and nodejs_* metrics with the service's own (the `telemetry.processMetrics` feature gate). Default true. */
  processMetrics?: boolean;
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Service {
  #config: ServiceConfig;
  readonly #registry: FactoryRegistry;
  readonly #logger: Logger;
  readonly #shutdownTimeoutMs: number;
  readonly #telemetry: SelfTelemetry;
  #server: TelemetryServer | undefined;
  #address: { host: string; port: number } | undefined;
  #graph: Graph = emptyGraph();
  #state: State = 'new';
  #shutdown: Promise<boolean> | undefined;
  /** Aborted when shutdown begins: components still starting stop waiting. */
  readonly #startAbort = new AbortController();
  /** Reloads run one at a time; shutdown waits for the one in progress. Never rejects. */
  #reloads: Promise<unknown> = Promise.resolve();
  /** Why the service runs with a broken graph: a failed reload whose undo failed too. Not ready while set. */
  #degraded: string | undefined;

  constructor(config: ServiceConfig, registry: FactoryRegistry, options: ServiceOptions = {}) {
    this.#config = config;
    this.#registry = registry;
    this.#logger = options.logger ?? createLogger(config.telemetry.logLevel);
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.#telemetry = new SelfTelemetry(VERSION, { processMetrics: options.processMetrics ?? true });
    if (!(this.#shutdownTimeoutMs > 0)) throw new RangeError(`shutdownTimeoutMs must be positive, got ${this.#shutdownTimeoutMs}`);
  }

  /**
   * True once every component has started and none says it is degraded
   * (`Component.ready === false`, e.g. k8sattributes not yet synced with the
   * Kubernetes API); false again from the moment shutdown begins. Served as /readyz.
   */
  get ready(): boolean {
    if (this.#state !== 'running' || this.#degraded !== undefined) return false;
    return nodesOf(this.#graph).every((node) => node.lifecycle.component.ready !== false);
  }

  /**
   * True once every component has started, even one that says it is degraded;
   * false again from the moment shutdown begins. Served as /startedz: a
   * sidecar's startup probe, which must hold the app until the receivers
   * count but must not hold it for the Kubernetes API.
   */
  get started(): boolean {
    return this.#state === 'running';
  }

  /** Where /metrics, /healthz and /readyz are served (after start), or undefined when the endpoint is `none`. */
  get telemetryAddress(): { host: string; port: number } | undefined {
    return this.#address;
  }

  /**
   * Starts the telemetry server and every component, exporters first. On any
   * failure, shuts down what was started and rejects with a ZonetapError
   * naming the component (`failed to start "netfilter" receiver: <cause>`),
   * with the cause's code when it has one (ZT_BPF, ZT_KUBERNETES, ...) and
   * ZT_COMPONENT_START otherwise. Only the service adds that prefix.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`Service.start() called when ${this.#state}`);
    this.#state = 'starting';
    const endpoint = this.#config.telemetry.metricsEndpoint;
    if (endpoint !== null) {
      try {
        await this.#listen(endpoint);
      } catch (err) {
        await this.shutdown();
        throw new ZonetapError('ZT_COMPONENT_START', `failed to start the telemetry server on ${endpoint}: ${message(err)}`, { cause: err });
      }
    }
    try {
      buildGraph(this.#config, this.#deps(), this.#graph);
      connect(this.#graph);
      await startNodes(nodesOf(this.#graph), { signal: this.#startAbort.signal, deadline: Infinity }, this.#logger);
      // Shutdown began while the last component started: not ready, and start() fails as interrupted.
      if (this.#state !== 'starting') throw new ZonetapError('ZT_COMPONENT_START', 'start-up interrupted: shutting down');
    } catch (err) {
      this.#logger.debug({ err }, 'start-up failed: shutting down what was started');
      await this.shutdown();
      throw err;
    }
    this.#state = 'running';
    const { exporters, processors, receivers } = this.#graph;
    this.#logger.info({ receivers: receivers.length, processors: processors.length, exporters: exporters.length, pipelines: [...this.#config.pipelines.keys()] }, 'zonetap is ready');
  }

  /**
   * Applies a new validated configuration while running, as `zonetap run`
   * does on SIGHUP: components whose kind, ID (and pipeline, for processors)
   * and settings are unchanged carry over running, with their state (kernel
   * tables, counters, totals); changed ones are shut down (flushed) and started
   * anew, removed ones shut down, new ones started; no batch is lost or sent
   * twice (reload.ts). Carried-over components that can reopen files
   * (`Component.reopen`) do. A changed telemetry endpoint moves the telemetry
   * server. Reloads run one at a time.
   *
   * If a component fails to be created or started, the running configuration
   * is put back (components it had retired are started anew) and the error is
   * thrown; if even that fails, the service goes on with what runs, logs why
   * and reports not ready until a reload succeeds.
   */
  reload(config: ServiceConfig): Promise<ReloadChanges> {
    const reload = this.#reloads.then(() => this.#reload(config));
    this.#reloads = reload.catch(() => undefined);
    return reload;
  }

  async #reload(config: ServiceConfig): Promise<ReloadChanges> {
    if (this.#state !== 'running') throw new ZonetapError('ZT_COMPONENT_START', `cannot reload the configuration while ${this.#state}`);
    const { context: stop, giveUp } = shutdownContext(this.#shutdownTimeoutMs, this.#startAbort.signal);
    const contexts = { stop, giveUp, start: { signal: this.#startAbort.signal, deadline: Infinity } };
    const running = this.#graph;
    const next = emptyGraph();
    try {
      buildGraph(config, this.#deps(), next, running);
    } catch (err) {
      // Created, never started: shut down only what is not running already.
      const created = new Set(nodesOf(running));
      await stopNodes(nodesOf(next).filter((n) => !created.has(n)).reverse(), contexts.stop, this.#logger);
      throw err;
    }
    const swap = new GraphSwap(running, next, contexts, this.#logger);
    try {
      await swap.run();
      this.#graph = next;
      this.#degraded = undefined;
      const previous = this.#config;
      this.#config = config;
      await this.#reopenCarriedOver(running, contexts.stop);
      if (config.telemetry.metricsEndpoint !== previous.telemetry.metricsEndpoint) await this.#moveTelemetryServer(previous.telemetry.metricsEndpoint);
      return changesBetween(running, next);
    } catch (err) {
      if (this.#startAbort.signal.aborted) this.#graph = next; // shutting down: it stops the next graph in order
      else await this.#putBack(running, next, contexts);
      throw err;
    } finally {
      swap.release();
    }
  }

  /** After a failed swap: starts anew what it retired, from the running configuration. */
  async #putBack(running: Graph, failed: Graph, contexts: SwapContexts): Promise<void> {
    const inFailed = new Set(nodesOf(failed));
    const carried = (nodes: GraphNode[]) => nodes.filter((n) => inFailed.has(n));
    const survivors: Graph = { exporters: carried(running.exporters), processors: carried(running.processors), receivers: carried(running.receivers), wiring: new Map() };
    const back = emptyGraph();
    const undo = new GraphSwap(survivors, back, contexts, this.#logger);
    try {
      buildGraph(this.#config, this.#deps(), back, survivors);
      await undo.run();
      this.#logger.warn('reload failed: the previous configuration runs again (components it had shut down were started anew)');
    } catch (err) {
      this.#degraded = `the previous configuration could not be restored: ${message(err)}`;
      this.#logger.error({ err }, `reload failed and ${this.#degraded}; running without the components that failed, not ready until a reload succeeds`);
    } finally {
      this.#graph = back;
      undo.release();
    }
  }

  /** Lets carried-over components reopen what an operator may have rotated (a flow log file). */
  async #reopenCarriedOver(running: Graph, context: LifecycleContext): Promise<void> {
    const before = new Set(nodesOf(running));
    for (const node of nodesOf(this.#graph).filter((n) => before.has(n))) {
      try {
        await node.lifecycle.component.reopen?.(context);
      } catch (err) {
        this.#logger.error({ err, component_id: node.id, kind: node.kind }, `${node.label} failed to reopen its files`);
      }
    }
  }

  /** Closes the telemetry server and serves on the new endpoint; back on the old one if the new one fails. */
  async #moveTelemetryServer(previous: string | null): Promise<void> {
    await this.#server?.close();
    this.#server = undefined;
    this.#address = undefined;
    const endpoint = this.#config.telemetry.metricsEndpoint;
    if (endpoint === null) return;
    try {
      await this.#listen(endpoint);
    } catch (err) {
      this.#logger.error({ err, endpoint }, `cannot serve telemetry on ${endpoint}; staying on ${previous ?? 'none'}`);
      if (previous !== null) await this.#listen(previous).catch((e: unknown) => this.#logger.error({ err: e }, 'cannot serve telemetry'));
    }
  }

  async #listen(endpoint: string): Promise<void> {
    const server = new TelemetryServer(endpoint, {
      metrics: (req, res) => this.#telemetry.handleMetrics(req, res),
      ready: () => this.ready,
      started: () => this.started,
    });
    this.#server = server;
    this.#address = await server.listen();
    this.#logger.info({ endpoint: `${this.#address.host}:${this.#address.port}` }, 'telemetry server listening (/metrics, /healthz, /readyz)');
  }

  #deps(): GraphDeps {
    return { registry: this.#registry, telemetry: this.#telemetry, logger: this.#logger };
  }

  /**
   * Stops receivers, then processors, then exporters (each flushes), then the
   * telemetry server. Idempotent; safe before start(). Resolves true when
   * everything stopped cleanly within the deadline, false otherwise (logged).
   */
  shutdown(): Promise<boolean> {
    if (this.#state === 'starting') this.#state = 'stopping'; // start() sees this and stops itself
    this.#startAbort.abort(new Error('shutting down'));
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  async #stop(): Promise<boolean> {
    this.#state = 'stopping';
    await this.#reloads; // a reload in progress sees the abort and settles quickly
    // One deadline for the whole shutdown: each component budgets its own flush against it.
    const { context, giveUp } = shutdownContext(this.#shutdownTimeoutMs);
    const pending = new Set<GraphNode>();
    const stages = (async () => {
      const { receivers, processors, exporters } = this.#graph;
      const stopped = [
        await stopNodes([...receivers].reverse(), context, this.#logger, pending),
        await stopNodes([...processors].reverse(), context, this.#logger, pending),
        await stopNodes([...exporters].reverse(), context, this.#logger, pending),
      ];
      return stopped.every(Boolean);
    })();
    // A component that ignores its deadline must not hold the process: stop waiting soon after it.
    const outcome = await untilDeadline(stages, giveUp);
    const clean = outcome === true;
    if (outcome === 'timeout') {
      this.#logger.error(
        { pending: [...pending].map((n) => n.label), timeout_ms: this.#shutdownTimeoutMs },
        'shutdown deadline passed: giving up on components that have not stopped',
      );
    }
    await this.#server?.close();
    await this.#telemetry.shutdown().catch((err: unknown) => this.#logger.warn({ err }, 'self-telemetry shutdown failed'));
    this.#state = 'stopped';
    this.#logger.info({ clean }, clean ? 'zonetap stopped' : 'zonetap stopped with errors');
    return clean;
  }
}
