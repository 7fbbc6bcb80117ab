/**
 * Typed face of the native addon (zonetap_native.node) and the translation of
 * its errors into ZonetapErrors that say what to do. The addon is thin: it
 * makes the syscalls; wording and decisions live here.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { ZonetapError } from '../pipeline/errors.ts';

/** Where `make build` puts the addon and the eBPF object. */
export const ADDON_PATH = join(import.meta.dirname, 'build', 'Release', 'zonetap_native.node');
export const FLOWS_OBJECT_PATH = join(import.meta.dirname, '..', 'bpf', 'flows.bpf.o');

export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;

export interface ProgramInfo {
  id: number;
  /** Both stay 0 unless kernel.bpf_stats_enabled=1. */
  runCnt: bigint;
  runTimeNs: bigint;
}

export interface MapInfo {
  id?: number;
  maxEntries: number;
  valueSize: number;
  possibleCpus: number;
}

/** One opened eBPF object file. Methods throw native errors; wrap them with {@link bpfError}. */
export interface BpfObject {
  /** Before load(). For a map-in-map it also sizes the inner template. */
  setMaxEntries(map: string, entries: number): void;
  /** Before load(): sets a `const volatile` integer global in .rodata (the verifier sees a constant). */
  setConst(name: string, value: number): void;
  /** Loads every program as a netfilter program. */
  load(): void;
  /** Attaches at NF_INET_POST_ROUTING; returns the link's fd. Inside `netnsPath` when given. */
  attachNetfilter(program: string, pf: number, priority: number, netnsPath?: string): number;
  /** Closes one link (the hook goes away). */
  detach(linkFd: number): void;
  programInfo(program: string): ProgramInfo;
  mapInfo(map: string): MapInfo;
  /** Every CPU's value for a u32 key of a per-CPU array, CPU after CPU (each rounded up to 8 bytes). */
  readPerCpu(map: string, key: number): Buffer;
  /**
   * One drain of bpf/flows.bpf.c's tables, off the main thread: sets the
   * cache generation map (`cache.generation`, key 0) to `cache.next`, then
   * points the outer map `tables[0]` at the next table (the kernel waits for
   * running programs), reads and zeroes the retired generation of the cache
   * array `cache.map`, lookup-and-deletes the retired table `batchSize` keys
   * per syscall, and merges the two. Resolves to one record per flow: struct
   * flow_key, then u64 bytes and u64 packets summed over CPUs (host byte order).
   */
  swapAndDrain(maps: { cache: { map: string; generation: string; next: 0 | 1 }; tables: [outer: string, next: string, retired: string]; batchSize: number }): Promise<Buffer>;
  /** Closes links, programs and maps. Idempotent. */
  close(): void;
}

interface NativeModule {
  BpfObject: new (path: string) => BpfObject;
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

/** Opens an eBPF object file through the addon. */
export function openBpfObject(path: string): BpfObject {
  if (!existsSync(path)) throw new ZonetapError('ZT_BPF', `the eBPF object ${path} is missing: run "make build"`);
  const { BpfObject } = nativeModule();
  try {
    return new BpfObject(path);
  } catch (err) {
    throw bpfError(`cannot open the eBPF object ${path}`, err);
  }
}

/** Kernel major.minor, from uname. */
export function kernelVersion(text = release()): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
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
 * do: missing privileges, an old kernel, no BTF, a verifier rejection, a
 * missing network namespace.
 */
export function bpfError(action: string, err: unknown): ZonetapError {
  const e = err as NativeError;
  const detail = e?.message ?? String(err);
  const log = e?.libbpfLog ?? '';
  const [major, minor] = kernelVersion();
  const verifierLog = verifierTail(log);
  let advice: string;
  if (verifierLog) {
    // The verifier refuses with EACCES (or EINVAL): its log says why.
    advice = `the kernel's verifier rejected the program; end of its log:\n${verifierLog}`;
  } else if (e?.code === 'EPERM' || e?.code === 'EACCES') {
    advice =
      'permission denied: zonetap needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (or CAP_SYS_ADMIN; root has them) to load ' +
      'eBPF programs and attach netfilter hooks; run it as root or add these capabilities (Kubernetes: securityContext.capabilities.add)';
  } else if (!existsSync('/sys/kernel/btf/vmlinux')) {
    advice = 'this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): zonetap needs a kernel built with CONFIG_DEBUG_INFO_BTF=y';
  } else if (major < 6 || (major === 6 && minor < 4)) {
    advice = `netfilter eBPF programs and links need Linux >= 6.4; this kernel is ${release()}`;
  } else if (e?.op?.startsWith('open network namespace') && e.code === 'ENOENT') {
    advice = 'the network namespace path does not exist: check the receiver\'s "netns" option';
  } else {
    advice = log.trim() ? `libbpf said: ${log.trim().split('\n').slice(-5).join(' | ')}` : 'see the errno above';
  }
  return new ZonetapError('ZT_BPF', `${action}: ${detail}${e?.code ? ` (${e.code})` : ''}; ${advice}`, { cause: err });
}
