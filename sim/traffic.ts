/**
 * Running processes inside simulated pods, and the traffic generator they run
 * (sim/pod-program.ts): servers, and senders with known sizes, counts, rates
 * and durations, so tests know exactly how many bytes left each pod.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const POD_PROGRAM = fileURLToPath(new URL('./pod-program.ts', import.meta.url));

/** One stream of messages from a pod to an address. */
export interface Send {
  transport: 'udp' | 'tcp';
  to: string;
  port: number;
  /** Payload bytes per message (UDP: per datagram; keep <= 1400 so it fits the veth MTU unfragmented). */
  size: number;
  /** Payload bytes per second; the sender paces itself to this. */
  rate: number;
  /** Stop after this many messages ... */
  count?: number;
  /** ... or after this long, whichever comes first (at least one of the two). */
  durationMs?: number;
}

export interface PodProgram {
  /** UDP server on [::]:port (dual-stack) that counts and discards. */
  udpPort?: number;
  /** TCP server on [::]:port that answers `tcpReplyFactor` bytes per byte received (default 0). */
  tcpPort?: number;
  tcpReplyFactor?: number;
  startAfterMs?: number;
  sends?: Send[];
}

export interface SendResult {
  index: number;
  messages: number;
  payloadBytes: number;
}

export interface Received {
  udpBytes: number;
  udpDatagrams: number;
  tcpBytes: number;
}

/** Bytes at the IP layer of one UDP datagram with `payload` bytes: UDP header 8 + IPv4 20 or IPv6 40. */
export function udpIpBytes(payload: number, family: 'ipv4' | 'ipv6'): number {
  return payload + 8 + (family === 'ipv4' ? 20 : 40);
}

/**
 * The argv prefix that runs a command in the cgroup directory `cgroup` (a
 * shell writes its pid to cgroup.procs, then execs the command), or nothing.
 */
export function inCgroup(cgroup: string | undefined): string[] {
  return cgroup === undefined ? [] : ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup];
}

/**
 * Starts `command` inside a network namespace (`ip netns exec`), and inside
 * the cgroup directory `cgroup` when given: a shell moves itself there before
 * it execs the command, so every socket the command opens is that cgroup's.
 */
export function execInNetns(netns: string, command: string, args: readonly string[], options: SpawnOptions & { cgroup?: string } = {}): ChildProcess {
  const { cgroup, ...spawnOptions } = options;
  const argv = [...inCgroup(cgroup), 'ip', 'netns', 'exec', netns, command, ...args];
  return spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
}

/** A pod program running in a namespace. */
export class PodProcess {
  readonly child: ChildProcess;
  readonly results: SendResult[] = [];
  /** Resolves once every server is bound. */
  readonly listening: Promise<void>;
  /** Resolves when every send finished. */
  readonly done: Promise<SendResult[]>;
  #received: Promise<Received | undefined>;
  #stderr = '';

  /** `cgroup`: the cgroup directory to run in (Cluster.run puts a pod's program in its container's). */
  constructor(netns: string, program: PodProgram, options: { cgroup?: string } = {}) {
    this.child = execInNetns(netns, process.execPath, ['--disable-warning=ExperimentalWarning', POD_PROGRAM, JSON.stringify(program)], options);
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    const lines = createInterface({ input: this.child.stdout! });
    const exited = new Promise<number | null>((resolve) => this.child.once('close', (code) => resolve(code)));
    const failure = (what: string) => exited.then((code) => Promise.reject(new Error(`pod program in ${netns} exited (${code}) before ${what}: ${this.#stderr.trim()}`)));
    let onListening!: () => void;
    let onDone!: () => void;
    let onReceived!: (r: Received) => void;
    const listening = new Promise<void>((resolve) => (onListening = resolve));
    const done = new Promise<void>((resolve) => (onDone = resolve));
    const received = new Promise<Received>((resolve) => (onReceived = resolve));
    lines.on('line', (line) => {
      const event = JSON.parse(line) as { event: string } & SendResult & Received;
      if (event.event === 'listening') onListening();
      else if (event.event === 'sent') this.results.push({ index: event.index, messages: event.messages, payloadBytes: event.payloadBytes });
      else if (event.event === 'done') onDone();
      else if (event.event === 'received') onReceived({ udpBytes: event.udpBytes, udpDatagrams: event.udpDatagrams, tcpBytes: event.tcpBytes });
    });
    this.listening = Promise.race([listening, failure('listening')]);
    this.done = Promise.race([done, failure('finishing its sends')]).then(() => this.results.toSorted((a, b) => a.index - b.index));
    this.#received = Promise.race([received, exited.then(() => undefined)]);
    // Callers may never await these: keep an early exit from being an unhandled rejection.
    this.listening.catch(() => {});
    this.done.catch(() => {});
  }

  /** Stops the program (SIGTERM) and returns what its servers received (undefined if it had already exited). */
  async stop(): Promise<Received | undefined> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.#received;
  }
}
