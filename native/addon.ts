/**
 * The native addon (native/src, built by `make build`): its typed surface, and
 * its errors turned into ZonetapErrors that say what happened and what to do.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ZonetapError } from '../pipeline/errors.ts';

/** Where `make build` puts the addon; the eBPF objects are compiled into it (skeletons). */
export const ADDON_PATH = join(import.meta.dirname, 'build', 'Release', 'zonetap_native.node');

export interface ProgramStats {
  name: string;
  id: number;
  /** Both stay 0 unless kernel.bpf_stats_enabled=1. */
  runCnt: bigint;
  runTimeNs: bigint;
}

/** The addon's options for a flow table: every field required (defaults: flow-table.ts). */
export interface NativeOpenOptions {
  maxFlows: number;
  flowCache: boolean;
  insertDelayNs: number;
  wideHeaderLoads: boolean;
  socketSources: 'off' | 'record' | 'skip';
  socketSourcesEntries: number;
  shareSocketSourcesWith?: NativeFlowTable;
  /** Netfilter with socketSources 'skip': the cgroup receiver's cgroup id; 0 for none. */
  skipCgroupId: number;
}

/** One loaded flow-table object (src/flow_table.cc). Methods throw NativeErrors. */
export interface NativeFlowTable {
  /** Netfilter object: a link at NF_INET_POST_ROUTING; returns its fd. */
  attachNetfilter(family: 4 | 6, priority: number, netnsPath?: string): number;
  /** Cgroup object: a BPF_CGROUP_INET_EGRESS link on a cgroup v2 directory; returns its fd. */
  attachCgroup(cgroupPath: string): number;
  detach(linkFd: number): void;
  /**
   * Swaps generations and reads the retired one: struct flow_key + u64 bytes + u64 packets per
   * flow, in chunks of at most `chunkRecords` records (Buffers over native memory, no copy).
   */
  drain(batchSize: number, chunkRecords: number): Promise<Buffer[]>;
  /** Reads and zeroes the retired generation's overflow counters: IPv4 then IPv6, every CPU's struct overflow_counters. */
  overflow(): Buffer;
  programs(): ProgramStats[];
  mapIds(): Record<string, number>;
  close(): void;
}

/** Any object file with one program (src/program.cc): benchmarks' baselines, load-error tests. */
export interface ProgramFile {
  /** Netfilter programs get their type set; others keep their section's. */
  load(): void;
  attachNetfilter(family: 4 | 6, priority: number, netnsPath?: string): number;
  attachCgroup(cgroupPath: string): number;
  detach(linkFd: number): void;
  info(): Omit<ProgramStats, 'name'>;
  close(): void;
}

interface NativeModule {
  FlowTable: new (kind: 'netfilter' | 'cgroup', options: NativeOpenOptions) => NativeFlowTable;
  ProgramFile: new (path: string) => ProgramFile;
  vmlinuxEnumValue(enumName: string, valueName: string): number | undefined;
  possibleCpus: number;
  flowKeySize: number;
  flowCountersSize: number;
  overflowCountersSize: number;
  flowCacheEntrySize: number;
  flowCacheSlots: number;
}

/** The error the addon throws: the failed operation, errno and libbpf's messages. */
export interface NativeError extends Error {
  op?: string;
  errno?: number;
  code?: string;
  libbpfLog?: string;
}

let loaded: NativeModule | undefined;

/** Loads the addon once; says how to build it when it is missing. */
export function nativeModule(): NativeModule {
  if (loaded) return loaded;
  if (!existsSync(ADDON_PATH)) {
    throw new ZonetapError('ZT_BPF', `the native addon is not built (${ADDON_PATH} is missing): run "make build"`);
  }
  loaded = createRequire(import.meta.url)(ADDON_PATH) as NativeModule;
  return loaded;
}

/** Opens an eBPF object file with one program (not loaded yet). */
export function openProgramFile(path: string): ProgramFile {
  if (!existsSync(path)) throw new ZonetapError('ZT_BPF', `the eBPF object ${path} is missing: run "make build"`);
  try {
    return new (nativeModule().ProgramFile)(path);
  } catch (err) {
    throw bpfError(`cannot open the eBPF object ${path}`, err);
  }
}

/** Last lines of the verifier log that libbpf printed, if any. */
function verifierTail(log: string, lines = 25): string | undefined {
  const start = log.indexOf('-- BEGIN PROG LOAD LOG --');
  if (start < 0) return undefined;
  const end = log.indexOf('-- END PROG LOAD LOG --', start);
  const body = log.slice(start + 25, end < 0 ? undefined : end).trim().split('\n');
  return body.slice(-lines).join('\n');
}

/**
 * Turns an addon error into a ZonetapError that says what happened and what to
 * do: missing privileges, no BTF, a verifier rejection, a missing network
 * namespace or cgroup. (A kernel too old for a receiver is refused before any
 * of this: kernel.ts.)
 */
export function bpfError(action: string, err: unknown): ZonetapError {
  const e = err as NativeError;
  const detail = e?.message ?? String(err);
  const log = e?.libbpfLog ?? '';
  const verifierLog = verifierTail(log);
  let advice: string;
  if (verifierLog) {
    // The verifier refuses with EACCES (or EINVAL): its log says why.
    advice = `the kernel's verifier rejected the program; end of its log:\n${verifierLog}`;
  } else if (e?.code === 'EPERM' || e?.code === 'EACCES') {
    advice =
      'permission denied: zonetap needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (or CAP_SYS_ADMIN; root has them) to load ' +
      'eBPF programs and attach them to netfilter hooks or cgroups; run it as root or add these capabilities (Kubernetes: securityContext.capabilities.add)';
  } else if (e?.op?.startsWith('open network namespace') && e.code === 'ENOENT') {
    advice = 'the network namespace path does not exist: check the receiver\'s "netns" option';
  } else if (e?.op?.startsWith('open cgroup') && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) {
    advice = 'the cgroup directory does not exist: check the receiver\'s "cgroup_path" and "cgroup_root" options';
  } else if (/BTF|btf/.test(log) && !existsSync('/sys/kernel/btf/vmlinux')) {
    advice = 'this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): the netfilter receiver needs a kernel built with CONFIG_DEBUG_INFO_BTF=y';
  } else {
    advice = log.trim() ? `libbpf said: ${log.trim().split('\n').slice(-5).join(' | ')}` : 'see the errno above';
  }
  return new ZonetapError('ZT_BPF', `${action}: ${detail}${e?.code ? ` (${e.code})` : ''}; ${advice}`, { cause: err });
}
