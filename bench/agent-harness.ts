/**
 * What the agent benchmarks (agent.bench.ts, million.bench.ts, sidecar.bench.ts)
 * share: starting a process and waiting for its "ready" line, and an OTLP
 * endpoint (gRPC and OTLP/HTTP) standing in for the gateway that acknowledges
 * every export and counts what it carried.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { decodeRequest, EXPORT_PATH } from '../receivers/otlp/index.ts';
import { SumReader } from '../receivers/otlp/points.ts';
import { until } from '../test/support/poll.ts';
import { startProgram, type RunningProgram } from '../test/support/processes.ts';

/**
 * Starts `file args` (added to `programs`, for the benchmark's clean-up);
 * resolves once its output matches `ready`, fails if it exits first.
 */
export async function startReady(programs: RunningProgram[], name: string, file: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<RunningProgram> {
  const program = startProgram(file, args, { env });
  programs.push(program);
  await until(name, () => {
    if (program.child.exitCode !== null) throw new Error(`${name} exited:\n${program.output()}`);
    return ready.test(program.output()) || undefined;
  }, { timeoutMs: 90_000, intervalMs: 100, details: program.output });
  return program;
}

/** An OTLP endpoint (gRPC and OTLP/HTTP with protobuf) that acknowledges every export, as a gateway does, and counts what came. */
export class OtlpSink {
  readonly server = new Server();
  #http?: HttpServer;
  #grpcPort = 0;
  #httpPort = 0;
  requests = 0;
  /** Sum data points of every metric (bytes and packets: two per series and export). */
  points = 0;
  /** Data points of zonetap.network.flow.packets, and the packets they carried. */
  packetPoints = 0;
  packets = 0;

  /** Listens for gRPC and OTLP/HTTP on loopback; resolves to the gRPC port. */
  async listen(): Promise<number> {
    this.#httpPort = await this.#listenHttp();
    const service: ServiceDefinition = {
      Export: { path: EXPORT_PATH, requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
    };
    this.server.addService(service, {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        this.#take(call.request);
        callback(null, Buffer.alloc(0));
      },
    });
    this.#grpcPort = await new Promise<number>((resolve, reject) => this.server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
    return this.#grpcPort;
  }

  /** Where the shipped agent of `checkout` (its config/agent.yaml) must send: this sink's port for the protocol that config speaks. */
  endpointFor(checkout: string): string {
    const protocol = parse(readFileSync(join(checkout, 'config', 'agent.yaml'), 'utf8')).exporters.otlp.protocol ?? 'grpc';
    return `127.0.0.1:${protocol === 'grpc' ? this.#grpcPort : this.#httpPort}`;
  }

  close(): void {
    this.server.forceShutdown();
    this.#http?.close();
  }

  /** OTLP/HTTP with protobuf (gzip or not) on POST /v1/metrics; resolves to the port. */
  async #listenHttp(): Promise<number> {
    const http = (this.#http = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (b: Buffer) => parts.push(b));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        this.#take(req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body);
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    }));
    // Idle connections kept as long as the gateway keeps them (the otlp receiver's idle_timeout,
    // 2m), not Node's 5 s: an agent exporting every 10 s reconnects only when a gateway would make it.
    http.keepAliveTimeout = 120_000;
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return (http.address() as { port: number }).port;
  }

  #take(request: Uint8Array): void {
    this.requests++;
    for (const r of decodeRequest(request).resourceMetrics) for (const s of r.scopeMetrics) for (const m of s.metrics) if (m.sum) this.#count(m.name, m.sum);
  }

  #count(metric: string, sum: Uint8Array): void {
    const packets = metric === 'zonetap.network.flow.packets';
    const reader = new SumReader(sum);
    while (reader.next()) {
      this.points++;
      if (!packets) continue;
      this.packetPoints++;
      this.packets += reader.value;
    }
  }
}
