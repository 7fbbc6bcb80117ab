/**
 * Test support: running programs as a user runs them. run() waits for a
 * program to finish; startProgram() keeps one running (a zonetap process, a
 * Prometheus, a server in a network namespace) with its output kept for
 * failure messages, and stops it with a signal.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The checkout's root directory (with a trailing slash). */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The zonetap command of this checkout: bin/zonetap, which runs cli/main.ts with the project's Node.js. */
export const ZONETAP = fileURLToPath(new URL('../../bin/zonetap', import.meta.url));

export interface RunResult { code: number; stdout: string; stderr: string }

/**
 * Runs a program to completion (never through a shell); `input` goes to its
 * stdin. A program killed by a signal (`timeoutMs` passed, say) has code -1.
 */
export function run(file: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { env: options.env ?? process.env, cwd: options.cwd, maxBuffer: 64 << 20, timeout: options.timeoutMs ?? 0 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number' && !err.signal) return reject(err);
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** A program started by startProgram(). */
export interface RunningProgram {
  readonly child: ChildProcess;
  /** What it wrote to stdout and stderr so far, interleaved. */
  output(): string;
  /** Resolves with its exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM), then SIGKILL after `graceMs`; resolves with the exit code. Safe to call again. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/** Starts a program with its stdout and stderr kept (stdin closed). */
export function startProgram(file: string, args: readonly string[], options: Pick<SpawnOptions, 'env' | 'cwd'> = {}): RunningProgram {
  const child = spawn(file, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** The first line a stream gives (a server's ready message); rejects after `timeoutMs`. */
export function firstLine(stream: NodeJS.ReadableStream, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no line within ${timeoutMs} ms: ${text}`)), timeoutMs);
    const onData = (d: Buffer | string) => {
      text += d.toString();
      const end = text.indexOf('\n');
      if (end < 0) return;
      clearTimeout(timer);
      stream.off('data', onData);
      resolve(text.slice(0, end));
    };
    stream.on('data', onData);
  });
}
