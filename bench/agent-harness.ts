/**
 * What the agent benchmarks (agent.bench.ts, million.bench.ts, sidecar.bench.ts)
 * share: starting a process and waiting for its "ready" line, and an OTLP/gRPC
 * endpoint standing in for the gateway that acknowledges every export and
 * counts what it carried.
 */
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
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

/** An OTLP/gRPC endpoint that acknowledges every export, as a gateway does, and counts what came. */
export class OtlpSink {
  readonly server = new Server();
  requests = 0;
  /** Sum data points of every metric (bytes and packets: two per series and export). */
  points = 0;
  /** Data points of zonetap.network.flow.packets, and the packets they carried. */
  packetPoints = 0;
  packets = 0;

  async listen(): Promise<number> {
    const service: ServiceDefinition = {
      Export: { path: EXPORT_PATH, requestStream: false, responseStream: false, requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b },
    };
    this.server.addService(service, {
      Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
        this.requests++;
        for (const r of decodeRequest(call.request).resourceMetrics) for (const s of r.scopeMetrics) for (const m of s.metrics) if (m.sum) this.#count(m.name, m.sum);
        callback(null, Buffer.alloc(0));
      },
    });
    return new Promise((resolve, reject) => this.server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
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
