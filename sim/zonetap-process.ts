/**
 * zonetap processes started by the demo and the integration tests:
 * `bin/zonetap run --config FILE` as a child, output to a log file, ready when
 * its telemetry server answers /readyz, stopped with SIGTERM (SIGKILL after a grace).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ZONETAP_BIN = fileURLToPath(new URL('../bin/zonetap', import.meta.url));
export const CONFIG_DIR = fileURLToPath(new URL('../config/', import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1 (bound and released: good enough on a quiet loopback). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True when nothing listens on 127.0.0.1:port. */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export class ZonetapProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly telemetryEndpoint: string;
  readonly #exited: Promise<void>;

  /** `env` is added to this process's environment; it must include ZONETAP_TELEMETRY (host:port). */
  constructor(name: string, configFiles: readonly string[], env: Record<string, string>, logFile: string, logLevel?: string) {
    this.name = name;
    this.logFile = logFile;
    this.telemetryEndpoint = env.ZONETAP_TELEMETRY!;
    const log = openSync(logFile, 'a');
    const args = ['run', ...configFiles.flatMap((f) => ['--config', f]), ...(logLevel ? ['--log-level', logLevel] : [])];
    this.child = spawn(ZONETAP_BIN, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', log, log],
      // Its own process group: a Ctrl-C at the terminal reaches only the caller,
      // which stops its children in order (agents, then the gateway).
      detached: true,
    });
    closeSync(log);
    this.#exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines of its log, for error messages. */
  logTail(lines = 15): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** Waits until GET /readyz answers 200; throws with the log's tail if the process exits or `timeoutMs` passes. */
  async ready(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`zonetap ${this.name} exited (${this.child.exitCode ?? this.child.signalCode}) while starting:\n${this.logTail()}`);
      try {
        const res = await fetch(`http://${this.telemetryEndpoint}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new Error(`zonetap ${this.name} was not ready after ${timeoutMs / 1000}s (no 200 from http://${this.telemetryEndpoint}/readyz):\n${this.logTail()}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const killed = sleep(graceMs).then(() => {
      if (this.running) this.child.kill('SIGKILL');
    });
    await Promise.race([this.#exited, killed]);
    await this.#exited;
  }
}
