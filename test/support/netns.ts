/**
 * Test support: network namespaces on the real kernel. A namespace with only
 * its loopback up (LoopbackNetns); two namespaces joined by a veth pair, with
 * static neighbour entries (no ARP or neighbour discovery in the counts), and
 * helpers to run programs inside them (NetnsPair); the root namespace's links,
 * to check that a test left none behind. Needs root (see privileges.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { run } from './processes.ts';
import { inCgroup } from '../../sim/traffic.ts';

export { inCgroup };

/** programs/traffic.ts: known traffic (UDP, TCP, floods), run inside a namespace. */
export const TRAFFIC_SCRIPT = join(import.meta.dirname, 'programs', 'traffic.ts');

export const ADDRESSES = {
  a4: '10.231.0.1',
  b4: '10.231.0.2',
  a6: 'fd00:231::1',
  b6: 'fd00:231::2',
} as const;

const MAC_A = '02:00:00:00:23:01';
const MAC_B = '02:00:00:00:23:02';

export function sh(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command inside a namespace (`ip netns exec`) and returns its stdout. */
export function inNetns(netns: string, command: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', netns, command, ...args]);
}

/**
 * GETs `url` from inside `netns` (a server bound in a namespace the test process is not in,
 * as a kubelet probe or a scrape reaches a pod): the body, or '' when the request failed.
 */
export async function fetchInNetns(netns: string, url: string): Promise<string> {
  const script = 'try { process.stdout.write(await (await fetch(process.argv[1], { signal: AbortSignal.timeout(5000) })).text()); } catch {}';
  const r = await run('ip', ['netns', 'exec', netns, process.execPath, '--input-type=module', '-e', script, url]);
  return r.stdout;
}

/** The names of the links of the root namespace, sorted. */
export function rootLinks(): string[] {
  return sh('ip', ['-o', 'link', 'show']).split('\n').flatMap((l) => l.split(':')[1]?.trim() || []).sort();
}

/** A namespace's kernel counter from /proc/net/snmp, e.g. snmp(ns, 'Ip', 'ForwDatagrams'). */
export function snmp(netns: string, group: string, field: string): number {
  const lines = inNetns(netns, 'cat', '/proc/net/snmp').split('\n').filter((l) => l.startsWith(`${group}:`));
  const names = lines[0]!.split(/\s+/);
  const values = lines[1]!.split(/\s+/);
  return Number(values[names.indexOf(field)]);
}

/** A network namespace with only its loopback, up: for traffic on 127.0.0.0/8 that a receiver counts alone. */
export class LoopbackNetns {
  readonly name: string;

  /** The name is unique per process: `<prefix>-<pid>`. */
  constructor(prefix: string) {
    this.name = `${prefix}-${process.pid}`;
  }

  /** Where the receivers' `netns` option points. */
  get path(): string {
    return `/run/netns/${this.name}`;
  }

  /** Creates it, first removing one a crashed run left behind. */
  create(): this {
    this.destroy();
    sh('ip', ['netns', 'add', this.name]);
    sh('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']);
    return this;
  }

  destroy(): void {
    try {
      sh('ip', ['netns', 'del', this.name]);
    } catch {
      // not there
    }
  }
}

export interface InterfaceCounters {
  txBytes: number;
  txPackets: number;
}

export class NetnsPair {
  readonly a: string;
  readonly b: string;

  /** Names are unique per process: `<prefix>-<pid>-a` and `-b`; veth `zta0`/`ztb0` inside them. */
  constructor(prefix: string) {
    this.a = `${prefix}-${process.pid}-a`;
    this.b = `${prefix}-${process.pid}-b`;
  }

  get pathA(): string {
    return `/run/netns/${this.a}`;
  }

  create(): this {
    this.destroy();
    sh('ip', ['netns', 'add', this.a]);
    sh('ip', ['netns', 'add', this.b]);
    // Quiet IPv6: no router solicitations or DAD, and the kernel's multicast
    // listener reports sent at once when the interface comes up rather than
    // later during a test, so only the tests' traffic leaves A.
    for (const ns of [this.a, this.b]) {
      for (const key of ['all', 'default']) {
        sh('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${key}.router_solicitations=0`, `net.ipv6.conf.${key}.accept_dad=0`,
          `net.ipv6.conf.${key}.mldv1_unsolicited_report_interval=0`, `net.ipv6.conf.${key}.mldv2_unsolicited_report_interval=0`]);
      }
    }
    sh('ip', ['link', 'add', 'zta0', 'netns', this.a, 'address', MAC_A, 'type', 'veth', 'peer', 'name', 'ztb0', 'netns', this.b, 'address', MAC_B]);
    for (const [ns, dev, v4, v6, peer4, peer6, peerMac] of [
      [this.a, 'zta0', ADDRESSES.a4, ADDRESSES.a6, ADDRESSES.b4, ADDRESSES.b6, MAC_B],
      [this.b, 'ztb0', ADDRESSES.b4, ADDRESSES.b6, ADDRESSES.a4, ADDRESSES.a6, MAC_A],
    ] as const) {
      sh('ip', ['-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev]);
      sh('ip', ['-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      sh('ip', ['-n', ns, 'neigh', 'replace', peer4, 'lladdr', peerMac, 'dev', dev, 'nud', 'permanent']);
      sh('ip', ['-n', ns, 'neigh', 'replace', peer6, 'lladdr', peerMac, 'dev', dev, 'nud', 'permanent']);
    }
    return this;
  }

  destroy(): void {
    for (const ns of [this.a, this.b]) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        // not there
      }
    }
  }

  /** Runs a command inside a namespace and returns its stdout. */
  exec(ns: string, command: string, args: string[]): string {
    return inNetns(ns, command, ...args);
  }

  /**
   * Runs the traffic script inside a namespace (asynchronously) and parses its
   * JSON line; pinned to CPU `cpu` (taskset) and in the cgroup directory
   * `cgroup` when given.
   */
  traffic(ns: string, args: string[], cpu?: number, cgroup?: string): Promise<any> {
    return this.run(ns, [process.execPath, TRAFFIC_SCRIPT, ...args], cpu, cgroup);
  }

  /**
   * Runs a command inside a namespace (asynchronously), optionally pinned to
   * one CPU and moved into a cgroup (before it starts: every socket it opens
   * belongs to that cgroup, see cgroups.ts), and parses its last stdout line as JSON.
   */
  run(ns: string, command: string[], cpu?: number, cgroup?: string): Promise<any> {
    const argv = [...inCgroup(cgroup), ...(cpu === undefined ? [] : ['taskset', '-c', String(cpu)]), 'ip', 'netns', 'exec', ns, ...command];
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`${command.join(' ')} exited ${code}: ${err}`))));
    });
  }

  /** Starts a long-running traffic script mode (a sink) and resolves once it printed its first line. */
  background(ns: string, args: string[]): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, TRAFFIC_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout.once('data', () => resolve(child));
      child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
    });
  }

  /** The veth's transmit counters in namespace A (Ethernet frames: IP length + 14 bytes each). */
  countersA(): InterfaceCounters {
    const [link] = JSON.parse(sh('ip', ['-n', this.a, '-j', '-s', 'link', 'show', 'dev', 'zta0']));
    return { txBytes: link.stats64.tx.bytes, txPackets: link.stats64.tx.packets };
  }

  /** A's kernel counters from /proc/net/snmp, e.g. snmp('Tcp', 'OutSegs'). */
  snmp(group: string, field: string): number {
    return snmp(this.a, group, field);
  }

  /**
   * A's kernel counters: TCP segments sent (a GSO super-packet counts as the
   * segments it becomes), TCP retransmissions, and IP packets handed down (a
   * super-packet once).
   */
  tcpCountersA(): { segments: number; retransmitted: number; ipPackets: number } {
    return { segments: this.snmp('Tcp', 'OutSegs'), retransmitted: this.snmp('Tcp', 'RetransSegs'), ipPackets: this.snmp('Ip', 'OutRequests') };
  }

  sysctlA(setting: string): void {
    this.exec(this.a, 'sysctl', ['-q', '-w', setting]);
  }
}
