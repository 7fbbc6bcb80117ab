/**
 * What the running kernel offers each receiver, decided before anything is
 * loaded: a kernel too old for a receiver is refused with one clear sentence,
 * and the code path a receiver takes is named with the reason, for the one
 * start-up log line (bpf/README.md, "Kernel reach").
 */
import { release } from 'node:os';
import { ZonetapError } from '../pipeline/errors.ts';
import { MINIMUM_KERNEL } from '../bpf/minimum-kernel.ts';
import { nativeModule } from './addon.ts';


const NEEDS = {
  netfilter: 'netfilter eBPF programs and links',
  cgroup: 'cgroup_skb eBPF programs with BPF links and the helpers the cgroup receiver uses',
} as const;

/** uname -r, e.g. 6.1.0-50-amd64. */
export function kernelRelease(): string {
  return release();
}

/** Kernel major.minor, from uname. */
export function kernelVersion(text = release()): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function atLeast([major, minor]: readonly [number, number], [wantMajor, wantMinor]: readonly [number, number]): boolean {
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/**
 * Throws ZT_BPF when this kernel is older than `receiver` needs, e.g.
 * "netfilter eBPF programs and links need Linux >= 6.4; this kernel is 6.1 (6.1.0-50-amd64)".
 */
export function requireKernel(receiver: keyof typeof MINIMUM_KERNEL, text = release()): void {
  const have = kernelVersion(text);
  const want = MINIMUM_KERNEL[receiver];
  if (atLeast(have, want)) return;
  const other = receiver === 'netfilter' ? '; the cgroup receiver runs on Linux >= 5.8' : '';
  throw new ZonetapError('ZT_BPF', `${NEEDS[receiver]} need Linux >= ${want.join('.')}; this kernel is ${have.join('.')} (${text})${other}`);
}

/** The code path a receiver takes on this kernel, and why, for its start-up log line. */
export interface KernelPath {
  /** A short name, e.g. `8-byte header loads`. */
  path: string;
  why: string;
}

/**
 * The netfilter program reads headers with 8-byte loads of untyped memory
 * where the verifier allows it (BPF_FEAT_RDONLY_CAST_TO_VOID in the kernel's
 * BTF, Linux 6.18), one load per field otherwise: the program decides with a
 * CO-RE check at load time, this says which it will be.
 */
export function netfilterPath(wideHeaderLoads: boolean): KernelPath {
  if (!wideHeaderLoads) return { path: 'per-field header loads', why: 'wide header loads turned off' };
  const feature = nativeModule().vmlinuxEnumValue('bpf_features', 'BPF_FEAT_RDONLY_CAST_TO_VOID');
  return feature === undefined
    ? { path: 'per-field header loads', why: `Linux ${release()} cannot cast to untyped memory (no BPF_FEAT_RDONLY_CAST_TO_VOID)` }
    : { path: '8-byte header loads', why: `Linux ${release()} casts to untyped memory (BPF_FEAT_RDONLY_CAST_TO_VOID)` };
}
