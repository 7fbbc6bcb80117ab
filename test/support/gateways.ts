/**
 * A zonetap gateway as shipped (config/gateway.yaml: otlp -> crosszone ->
 * cost -> prometheus, agents admitted by bearer token) in a real process on
 * loopback ports, with its limits sized for the agents it will serve.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CONFIG_DIR, ZonetapProcess } from '../../sim/zonetap-process.ts';
import { freePort } from './loopback.ts';

export interface ShippedGateway {
  readonly process: ZonetapProcess;
  /** host:port of its OTLP/gRPC endpoint. */
  readonly otlp: string;
  /** URL of its flow metrics (the prometheus exporter). */
  readonly metricsUrl: string;
  /** host:port of its own /metrics (self-telemetry). */
  readonly telemetry: string;
}

export interface GatewaySize {
  /** Agents it serves: one connection each. */
  agents: number;
  /** Flow series over all of them: receiver streams and Prometheus label sets. */
  streams: number;
}

/**
 * Starts `config/gateway.yaml` as `name` (its config and log in `dir`), the
 * agents' token `token`, `env` added to its environment (NODE_OPTIONS, say;
 * ZONETAP_V8_FLAGS is empty, as the gateway's Deployment sets it);
 * resolves once it is ready. Stop it with `process.stop()`.
 */
export async function startShippedGateway(name: string, dir: string, token: string, size: GatewaySize, env: Record<string, string> = {}): Promise<ShippedGateway> {
  const otlp = `127.0.0.1:${await freePort()}`;
  const metrics = `127.0.0.1:${await freePort()}`;
  const telemetry = `127.0.0.1:${await freePort()}`;
  const tokenFile = join(dir, `${name}.token`);
  writeFileSync(tokenFile, token);
  const override = join(dir, `${name}.yaml`);
  writeFileSync(override, stringify({
    receivers: {
      otlp: {
        // OTLP/HTTP (config/gateway.yaml's 0.0.0.0:4318) on any free loopback port: the callers send gRPC.
        protocols: { grpc: { endpoint: otlp, max_connections: size.agents + 100 }, http: { endpoint: '127.0.0.1:0', max_connections: size.agents + 100 } },
        // ~2.5 KiB counted per stream (receivers/otlp "Memory"); with room to spare.
        max_streams: 2 * size.streams,
        max_streams_memory_mib: Math.ceil((size.streams * 4096) / 2 ** 20) + 64,
      },
    },
    exporters: { prometheus: { endpoint: metrics, max_series: 2 * size.streams } },
    service: { telemetry: { metrics: { endpoint: telemetry } } },
  }));
  const process = new ZonetapProcess(name, [join(CONFIG_DIR, 'gateway.yaml'), override], { ZONETAP_V8_FLAGS: '', ...env, ZONETAP_TELEMETRY: telemetry, ZONETAP_OTLP_TOKEN_FILE: tokenFile }, join(dir, `${name}.log`), 'warn');
  await process.ready(60_000);
  return { process, otlp, metricsUrl: `http://${metrics}/metrics`, telemetry };
}
