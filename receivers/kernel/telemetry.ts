/**
 * The self-telemetry of a kernel receiver (netfilter, cgroup), labelled with
 * its component_id: table fill, overflow, drains and their failures, eBPF run time.
 */
import { readFileSync } from 'node:fs';
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import type { ComponentSettings } from '../../pipeline/component.ts';
import type { ProgramStats } from '../../native/index.ts';

export class KernelTelemetry {
  readonly attributes: Attributes;
  readonly dropped: Counter;
  readonly overflowBytes: Counter;
  readonly overflowPackets: Counter;
  readonly filtered: Counter;
  readonly drainFailures: Counter;
  readonly statsErrors: Counter;
  readonly flowsPerDrain: Histogram;
  readonly drainSeconds: Histogram;
  /** Flows in the last drain / max_flows. */
  fillRatio = 0;
  #nsPerPacket: number | undefined;
  #lastRuns = { runCnt: 0n, runTimeNs: 0n };

  constructor(settings: ComponentSettings) {
    this.attributes = { component_id: settings.id };
    const meter = settings.meter;
    this.dropped = meter.createCounter('zonetap.receiver.flows.dropped', {
      description: 'Packets whose flow found the kernel flow table full (their bytes are reported as overflow, not lost)',
    });
    this.overflowBytes = meter.createCounter('zonetap.receiver.overflow.bytes', { description: 'Bytes counted as overflow because the kernel flow table was full', unit: 'By' });
    this.overflowPackets = meter.createCounter('zonetap.receiver.overflow.packets', { description: 'Packets counted as overflow because the kernel flow table was full' });
    this.filtered = meter.createCounter('zonetap.receiver.flows.filtered', { description: 'Flow records dropped by include_cidrs / exclude_cidrs' });
    this.drainFailures = meter.createCounter('zonetap.receiver.drain.failures', {
      description: 'Drains that failed; if after the table swap, the flows read before the failure are lost',
    });
    this.statsErrors = meter.createCounter('zonetap.receiver.drain.stats_errors', {
      description: 'Errors reading the overflow counters or program stats after a drain (the drained flows are still handed on)',
    });
    this.flowsPerDrain = meter.createHistogram('zonetap.receiver.drain.flows', {
      description: 'Flows read from the kernel per drain',
      advice: { explicitBucketBoundaries: [0, 10, 100, 1_000, 10_000, 65_536, 262_144, 1_048_576, 4_194_304] },
    });
    this.drainSeconds = meter.createHistogram('zonetap.receiver.drain.duration_seconds', {
      description: 'Time to swap and drain the kernel flow table',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] },
    });
    meter
      .createObservableGauge('zonetap.receiver.table.fill_ratio', { description: 'Flows in the last drain divided by max_flows' })
      .addCallback((result) => result.observe(this.fillRatio, this.attributes));
    meter
      // In seconds, Prometheus' and OpenTelemetry's base unit (about 1e-7): the unit is in the name, which the JS exporter does not add.
      .createObservableGauge('zonetap.receiver.bpf.run_time_per_packet_seconds', {
        description: 'Average run time of the eBPF program per hook call over the last interval (needs sysctl kernel.bpf_stats_enabled=1)',
        unit: 's',
      })
      .addCallback((result) => {
        if (this.#nsPerPacket !== undefined) result.observe(this.#nsPerPacket / 1e9, this.attributes);
      });
  }

  /** Run time per hook call since the last call, from the programs' statistics (when the kernel keeps them). */
  readProgramStats(programs: () => ProgramStats[]): void {
    if (!bpfStatsEnabled()) {
      this.#nsPerPacket = undefined;
      return;
    }
    const now = programs().reduce((sum, p) => ({ runCnt: sum.runCnt + p.runCnt, runTimeNs: sum.runTimeNs + p.runTimeNs }), { runCnt: 0n, runTimeNs: 0n });
    const runs = now.runCnt - this.#lastRuns.runCnt;
    if (runs > 0n) this.#nsPerPacket = Number(now.runTimeNs - this.#lastRuns.runTimeNs) / Number(runs);
    this.#lastRuns = now;
  }
}

function bpfStatsEnabled(): boolean {
  try {
    return readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
