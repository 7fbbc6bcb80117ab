/**
 * The processes of the accounting tests, as deployed: gateways (`zonetap run`:
 * otlp receiver -> prometheus, flowlog and otlp exporters), agents (`zonetap
 * run`: replay -> otlp exporter with delta temporality, and the agent's own
 * flow log, the truth) and an OTLP backend the gateways export to. Prometheus
 * is test/support/prometheus.ts.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { contextWithTimeout } from '../../pipeline/lifecycle.ts';
import { otlpReceiverFactory, type OtlpReceiver } from '../../receivers/otlp/index.ts';
import { ZonetapProcess } from '../../sim/zonetap-process.ts';
import { RecordingConsumer, testSettings } from '../support/components.ts';
import { freePort } from '../support/loopback.ts';
import { parseExposition } from '../support/prometheus.ts';

/** Every interval of the fleet: short, so that each case takes seconds. */
export const TIMING = {
  /** The agents' replay: one recorded interval every... */
  replayMs: 100,
  /** The agents' OTLP export interval, and the timeout of one export. */
  agentExportMs: 500,
  agentTimeoutMs: 500,
  /** The gateways' OTLP export interval (to the backend). */
  gatewayExportMs: 500,
  scrapeMs: 500,
  /**
   * The gateways' exposition_max_age, scaled with the scrape interval as the
   * other intervals are (the default 1 s is meant for scrapes every 15 s or
   * more; against 500 ms scrapes it would serve each render to three).
   */
  expositionMaxAgeMs: 250,
} as const;

/**
 * How long every output of a gateway may lag what it applied: a new series
 * is shown with its count two renders after it appeared (new_series_at_zero),
 * each up to a scrape interval plus exposition_max_age; OTLP out, an export
 * interval plus its timeout.
 */
export const OUTPUT_LAG_MS = Math.max(2 * (TIMING.scrapeMs + TIMING.expositionMaxAgeMs), TIMING.gatewayExportMs + 1000);

/** Bytes per source namespace in a flow log file (none when the file does not exist yet). */
export function flowLogBytes(path: string, namespace: string): number {
  if (!existsSync(path)) return 0;
  let total = 0;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    const record = JSON.parse(line) as { 'k8s.src.namespace'?: string; bytes: number };
    if (record['k8s.src.namespace'] === namespace) total += record.bytes;
  }
  return total;
}

/**
 * Bytes of each request a gateway applied, from its flow log: the records of
 * one request share the batch's start and end, and no two requests end at the
 * same time (each export has its own time).
 */
export function requestBytes(path: string, namespace: string): number[] {
  if (!existsSync(path)) return [];
  const byRequest = new Map<string, number>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line) as { start: string; end: string; 'k8s.src.namespace'?: string; bytes: number };
    if (r['k8s.src.namespace'] !== namespace) continue;
    const key = `${r.start}/${r.end}`;
    byRequest.set(key, (byRequest.get(key) ?? 0) + r.bytes);
  }
  return [...byRequest.values()];
}

/** A value from a process's /metrics (summed over the series matching `labels`), 0 when absent. */
export async function telemetryValue(endpoint: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`http://${endpoint}/metrics`, { signal: AbortSignal.timeout(5000) });
  let total = 0;
  for (const s of parseExposition(await res.text())) {
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** Where the gateways send their OTLP output: an otlp receiver in this process, recording what it turns into flows. */
export class OtlpBackend {
  readonly sink: RecordingConsumer;
  readonly #receiver: OtlpReceiver;

  private constructor(receiver: OtlpReceiver, sink: RecordingConsumer) {
    this.#receiver = receiver;
    this.sink = sink;
  }

  static async start(): Promise<OtlpBackend> {
    const sink = new RecordingConsumer();
    const config = otlpReceiverFactory.configSchema.parse({ protocols: { grpc: { endpoint: '127.0.0.1:0' } } });
    const receiver = otlpReceiverFactory.create(testSettings('otlp/backend', 'receiver'), config, sink) as OtlpReceiver;
    await receiver.start();
    return new OtlpBackend(receiver, sink);
  }

  get port(): number {
    return this.#receiver.port;
  }

  bytes(namespace: string): number {
    return this.sink.records.reduce((n, r) => n + (r.src.namespace === namespace ? r.bytes : 0), 0);
  }

  stop(): Promise<void> {
    return this.#receiver.shutdown(contextWithTimeout(5000));
  }
}

export interface GatewayPorts {
  otlp: number;
  /** OTLP/HTTP, beside gRPC on `otlp`. */
  otlpHttp: number;
  prometheus: number;
  telemetry: number;
}

/**
 * One gateway pod: its ports and flow log stay across restarts (a container
 * restarted in place); a rollout makes new Gateways (new pods, new ports).
 */
export class Gateway {
  readonly name: string;
  readonly #dir: string;
  readonly #backendPort: number;
  readonly flowLog: string;
  readonly ports: GatewayPorts;
  process: ZonetapProcess | undefined;
  #lives = 0;

  private constructor(name: string, dir: string, backendPort: number, ports: GatewayPorts) {
    this.name = name;
    this.#dir = dir;
    this.#backendPort = backendPort;
    this.flowLog = join(dir, `${name}.flows.jsonl`);
    this.ports = ports;
  }

  static async start(name: string, dir: string, backendPort: number): Promise<Gateway> {
    const gateway = new Gateway(name, dir, backendPort, await newPorts());
    await gateway.start();
    return gateway;
  }

  get metricsAddress(): string {
    return `127.0.0.1:${this.ports.prometheus}`;
  }

  get telemetry(): string {
    return `127.0.0.1:${this.ports.telemetry}`;
  }

  /** Starts a new process on the gateway's ports. */
  async start(): Promise<void> {
    const life = ++this.#lives;
    const config = join(this.#dir, `${this.name}.${life}.yaml`);
    writeFileSync(config, stringify({
      receivers: { otlp: { protocols: { grpc: { endpoint: `127.0.0.1:${this.ports.otlp}` }, http: { endpoint: `127.0.0.1:${this.ports.otlpHttp}` } }, stream_ttl: '2s', agent_ttl: '1m' } },
      exporters: {
        prometheus: { endpoint: this.metricsAddress, exposition_max_age: `${TIMING.expositionMaxAgeMs}ms` },
        flowlog: { path: this.flowLog },
        otlp: {
          endpoint: `127.0.0.1:${this.#backendPort}`, tls: { insecure: true }, interval: `${TIMING.gatewayExportMs}ms`, timeout: '1s',
          retry_on_failure: { initial_interval: '100ms', max_interval: '500ms' },
        },
      },
      service: { pipelines: { flows: { receivers: ['otlp'], exporters: ['prometheus', 'flowlog', 'otlp'] } }, telemetry: { metrics: { endpoint: this.telemetry } } },
    }));
    const log = join(this.#dir, `${this.name}.log`);
    appendFileSync(log, `--- life ${life} ---\n`);
    this.process = new ZonetapProcess(this.name, [config], { ZONETAP_TELEMETRY: this.telemetry }, log, 'info');
    await this.process.ready(60_000);
  }

  /** SIGTERM: the gateway drains, waits for a last scrape and flushes its OTLP output. */
  async stop(): Promise<void> {
    await this.process?.stop(30_000);
  }

  /** SIGKILL: nothing is drained, flushed or scraped. */
  async kill(): Promise<void> {
    const p = this.process;
    if (!p?.running) return;
    p.child.kill('SIGKILL');
    await p.stop();
  }

  /** Requests this gateway's current process applied (answered OK). */
  applied(): Promise<number> {
    return telemetryValue(this.telemetry, 'zonetap_receiver_otlp_requests_total', { outcome: 'ok' });
  }

  logTail(lines = 40): string {
    return `--- ${this.name}:\n${this.process?.logTail(lines) ?? ''}`;
  }
}

async function newPorts(): Promise<GatewayPorts> {
  return { otlp: await freePort(), otlpHttp: await freePort(), prometheus: await freePort(), telemetry: await freePort() };
}

/** How an agent exports: OTLP/gRPC (the default) or OTLP/HTTP with protobuf. */
export type AgentProtocol = 'grpc' | 'http/protobuf';

/** One agent process replaying `input`, exporting deltas to `endpointPort` (a relay), writing its own flow log. */
export class Agent {
  readonly process: ZonetapProcess;
  readonly flowLog: string;
  readonly telemetry: string;

  private constructor(process: ZonetapProcess, flowLog: string, telemetry: string) {
    this.process = process;
    this.flowLog = flowLog;
    this.telemetry = telemetry;
  }

  static async start(name: string, dir: string, input: string, endpointPort: number, protocol: AgentProtocol = 'grpc'): Promise<Agent> {
    const telemetry = `127.0.0.1:${await freePort()}`;
    const flowLog = join(dir, `${name}.flows.jsonl`);
    const config = join(dir, `${name}.yaml`);
    writeFileSync(config, stringify({
      receivers: { replay: { path: input, interval: `${TIMING.replayMs}ms` } },
      exporters: {
        otlp: {
          protocol, endpoint: `127.0.0.1:${endpointPort}`, tls: { insecure: true }, temporality: 'delta', interval: `${TIMING.agentExportMs}ms`, timeout: `${TIMING.agentTimeoutMs}ms`,
          retry_on_failure: { initial_interval: '100ms', max_interval: '500ms' },
        },
        flowlog: { path: flowLog },
      },
      service: { pipelines: { flows: { receivers: ['replay'], exporters: ['otlp', 'flowlog'] } }, telemetry: { metrics: { endpoint: telemetry } } },
    }));
    const process = new ZonetapProcess(name, [config], { ZONETAP_TELEMETRY: telemetry }, join(dir, `${name}.log`), 'info');
    await process.ready(60_000);
    return new Agent(process, flowLog, telemetry);
  }

  /** Failed export attempts so far. */
  failedExports(): Promise<number> {
    return telemetryValue(this.telemetry, 'zonetap_exporter_send_failed_total');
  }

  /** Recorded intervals the agent has counted (each one a line per series in its flow log). */
  lines(): number {
    return existsSync(this.flowLog) ? readFileSync(this.flowLog, 'utf8').split('\n').filter(Boolean).length : 0;
  }

  /** SIGTERM: the agent flushes what it counted and exits; it must exit 0. */
  async stop(): Promise<void> {
    await this.process.stop(30_000);
    if (this.process.child.exitCode !== 0) throw new Error(`agent exited ${this.process.child.exitCode ?? this.process.child.signalCode}:\n${this.process.logTail()}`);
  }
}

