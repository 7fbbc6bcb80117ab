/**
 * What Linux says a process (a zonetap under measurement) costs: CPU time and
 * resident memory from /proc, so a benchmark measures the process it started
 * and not itself.
 */
import { readFileSync } from 'node:fs';

const CLK_TCK = 100; // Linux USER_HZ: /proc/PID/stat times are in 1/100 s

/** utime + stime of `pid`, in seconds. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** A memory figure of `pid`'s status in MiB; 0 once the process has exited (a zombie has none). */
function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

/** Resident memory of `pid` now, in MiB. */
export function rssMiB(pid: number): number {
  return statusMiB(pid, 'VmRSS');
}

/** The most resident memory `pid` ever had, in MiB. */
export function peakRssMiB(pid: number): number {
  return statusMiB(pid, 'VmHWM');
}

export const median = (xs: readonly number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)]!;
