/**
 * Test support for the kernel receivers: what the kernel holds, read with
 * bpftool (independently of zonetap's own code).
 */
import { spawnSync } from 'node:child_process';
import { sh } from './netns.ts';

export interface LinkInfo {
  type: string | number;
  prog_id: number;
}

/** Links of these programs, as `bpftool link show` lists them. */
export function linksOf(programIds: number[]): LinkInfo[] {
  const links = JSON.parse(sh('bpftool', ['-j', 'link', 'show']) || '[]') as LinkInfo[];
  return links.filter((l) => programIds.includes(l.prog_id));
}

/** bpftool 7.1 (Debian 12) predates netfilter links and prints their type number, BPF_LINK_TYPE_NETFILTER = 10. */
export const isNetfilterLink = (l: LinkInfo) => l.type === 'netfilter' || l.type === 10;

/** True while any of these programs is still loaded. */
export function programsExist(programIds: number[]): boolean {
  return programIds.some((id) => spawnSync('bpftool', ['prog', 'show', 'id', String(id)], { stdio: 'ignore' }).status === 0);
}

/** A per-CPU u64 counter summed over CPUs, read with bpftool from the map `mapId` (key 0). */
export function perCpuCounter(mapId: number): number {
  const entry = JSON.parse(sh('bpftool', ['-j', 'map', 'lookup', 'id', String(mapId), 'key', '0', '0', '0', '0'])) as { formatted: { values: { value: number }[] } };
  return entry.formatted.values.reduce((n, cpu) => n + cpu.value, 0);
}

/** A program's run statistics as the kernel reports them to anyone (`bpftool prog show`): 0 unless kernel.bpf_stats_enabled=1. */
export function programRunStats(id: number): { runCnt: number; runTimeNs: number } {
  const p = JSON.parse(sh('bpftool', ['-j', 'prog', 'show', 'id', String(id)])) as { run_cnt?: number; run_time_ns?: number };
  return { runCnt: p.run_cnt ?? 0, runTimeNs: p.run_time_ns ?? 0 };
}
