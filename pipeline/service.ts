/**
 * The Service runs one validated configuration: telemetry server first (so
 * /healthz answers while components start), then exporters -> processors ->
 * receivers; shutdown in reverse under a deadline, so data drains downstream.
 */
import type { Logger } from 'pino';
import type { ServiceConfig } from './config/types.ts';
import { ZonetapError } from './errors.ts';
import { buildGraph, emptyGraph } from './graph.ts';
import type { Graph, GraphNode } from './graph.ts';
import { createLogger } from './logging.ts';
import type { FactoryRegistry } from './registry.ts';
import { SelfTelemetry } from './telemetry/metrics.ts';
import { TelemetryServer } from './telemetry/server.ts';
import { VERSION } from './version.ts';

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

export interface ServiceOptions {
  /** Default: a pino logger on stderr at service.telemetry.logs.level. */
  logger?: Logger;
  /** How long shutdown() waits for components before giving up on them. Default 10 s. */
  shutdownTimeoutMs?: number;
}

type State = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Service {
  readonly #config: ServiceConfig;
  readonly #registry: FactoryRegistry;
  readonly #logger: Logger;
  readonly #shutdownTimeoutMs: number;
  readonly #telemetry = new SelfTelemetry(VERSION);
  #server: TelemetryServer | undefined;
  #address: { host: string; port: number } | undefined;
  #graph: Graph = emptyGraph();
  #state: State = 'new';
  #shutdown: Promise<boolean> | undefined;
  /** Aborted when shutdown begins: components still starting stop waiting. */
  readonly #startAbort = new AbortController();

  constructor(config: ServiceConfig, registry: FactoryRegistry, options: ServiceOptions = {}) {
    this.#config = config;
    this.#registry = registry;
    this.#logger = options.logger ?? createLogger(config.telemetry.logLevel);
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    if (!(this.#shutdownTimeoutMs > 0)) throw new RangeError(`shutdownTimeoutMs must be positive, got ${this.#shutdownTimeoutMs}`);
  }

  /**
   * True once every component has started and none says it is degraded
   * (`Component.ready === false`, e.g. k8sattributes not yet synced with the
   * Kubernetes API); false again from the moment shutdown begins. Served as /readyz.
   */
  get ready(): boolean {
    if (this.#state !== 'running') return false;
    const { exporters, processors, receivers } = this.#graph;
    return [...exporters, ...processors, ...receivers].every((node) => node.lifecycle.component.ready !== false);
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
      this.#server = new TelemetryServer(endpoint, {
        metrics: (req, res) => this.#telemetry.handleMetrics(req, res),
        ready: () => this.ready,
        started: () => this.started,
      });
      try {
        this.#address = await this.#server.listen();
      } catch (err) {
        await this.shutdown();
        throw new ZonetapError('ZT_COMPONENT_START', `failed to start the telemetry server on ${endpoint}: ${message(err)}`, { cause: err });
      }
      this.#logger.info({ endpoint: `${this.#address.host}:${this.#address.port}` }, 'telemetry server listening (/metrics, /healthz, /readyz)');
    }
    try {
      buildGraph(this.#config, { registry: this.#registry, telemetry: this.#telemetry, logger: this.#logger }, this.#graph);
      const context = { signal: this.#startAbort.signal, deadline: Infinity };
      for (const node of [...this.#graph.exporters, ...this.#graph.processors, ...this.#graph.receivers]) {
        if (this.#state !== 'starting') throw new ZonetapError('ZT_COMPONENT_START', `start-up interrupted before ${node.label} started`);
        try {
          await node.lifecycle.start(context);
        } catch (err) {
          const code = err instanceof ZonetapError ? err.code : 'ZT_COMPONENT_START';
          throw new ZonetapError(code, `failed to start ${node.label}: ${message(err)}`, { cause: err });
        }
        this.#logger.debug({ component_id: node.id, kind: node.kind }, 'component started');
      }
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
    // One deadline for the whole shutdown: each component budgets its own flush against it.
    const expiry = new AbortController();
    const timer = setTimeout(() => expiry.abort(new Error('shutdown deadline passed')), this.#shutdownTimeoutMs);
    const context = { signal: expiry.signal, deadline: Date.now() + this.#shutdownTimeoutMs };
    let clean = true;
    const pending = new Set<GraphNode>();
    const stopAll = async (nodes: readonly GraphNode[]) => {
      await Promise.all(
        nodes.map(async (node) => {
          pending.add(node);
          try {
            await node.lifecycle.shutdown(context);
          } catch (err) {
            clean = false;
            this.#logger.error({ err, component_id: node.id, kind: node.kind }, `failed to shut down ${node.label}`);
          } finally {
            pending.delete(node);
          }
        }),
      );
    };
    const stages = (async () => {
      const { receivers, processors, exporters } = this.#graph;
      await stopAll([...receivers].reverse());
      await stopAll([...processors].reverse());
      await stopAll([...exporters].reverse());
    })();
    // A component that ignores its deadline must not hold the process: stop waiting at the deadline.
    const deadline = new Promise<'timeout'>((resolve) => {
      if (context.signal.aborted) resolve('timeout');
      context.signal.addEventListener('abort', () => resolve('timeout'), { once: true });
    });
    const outcome = await Promise.race([stages.then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      clean = false;
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
