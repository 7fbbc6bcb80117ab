import { readFileSync } from 'node:fs';
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import type { ComponentSettings, FlowConsumer, Receiver } from '../../pipeline/component.ts';
import { OVERFLOW_TRANSPORT, type FlowBatch, type FlowRecord, type IpFamily } from '../../pipeline/flow.ts';
import { cidrContains, type Cidr } from '../../net/index.ts';
import type { NetfilterConfig } from './config.ts';
import type { OverflowCounters } from './decode.ts';
import { KernelFlowTable } from './flow-table.ts';

/**
 * Transport of the record that carries overflow: traffic whose flow found the
 * kernel table full. Its addresses are '' (unknown) and ports 0; with it the
 * bytes a batch reports add up to what the hook saw. Defined in pipeline/flow.ts
 * (processors recognise it too), re-exported here.
 */
export { OVERFLOW_TRANSPORT };

/**
 * Counts flows leaving this node (or the namespace `netns`) with the eBPF
 * program, and every `interval` hands the deltas on as one FlowBatch.
 * shutdown() detaches the hooks first, then drains once more, so nothing the
 * kernel counted is lost.
 */
export class NetfilterReceiver implements Receiver {
  readonly #settings: ComponentSettings;
  readonly #config: Readonly<NetfilterConfig>;
  readonly #next: FlowConsumer;
  readonly #attributes: Attributes;
  readonly #dropped: Counter;
  readonly #overflowBytes: Counter;
  readonly #overflowPackets: Counter;
  readonly #filtered: Counter;
  readonly #drainFailures: Counter;
  readonly #statsErrors: Counter;
  readonly #flowsPerDrain: Histogram;
  readonly #drainSeconds: Histogram;
  #table: KernelFlowTable | undefined;
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #stopping = false;
  #lastDrain = 0;
  #lastOverflow: Record<IpFamily, OverflowCounters> = { ipv4: zero(), ipv6: zero() };
  #lastProgram = { runCnt: 0n, runTimeNs: 0n };
  #fillRatio = 0;
  #nsPerPacket: number | undefined;

  constructor(settings: ComponentSettings, config: NetfilterConfig, next: FlowConsumer) {
    this.#settings = settings;
    this.#config = Object.freeze({ ...config });
    this.#next = next;
    this.#attributes = { component_id: settings.id };
    const meter = settings.meter;
    this.#dropped = meter.createCounter('zonetap.receiver.flows.dropped', {
      description: 'Packets whose flow found the kernel flow table full (their bytes are reported as overflow, not lost)',
    });
    this.#overflowBytes = meter.createCounter('zonetap.receiver.overflow.bytes', { description: 'Bytes counted as overflow because the kernel flow table was full', unit: 'By' });
    this.#overflowPackets = meter.createCounter('zonetap.receiver.overflow.packets', { description: 'Packets counted as overflow because the kernel flow table was full' });
    this.#filtered = meter.createCounter('zonetap.receiver.flows.filtered', { description: 'Flow records dropped by include_cidrs / exclude_cidrs' });
    this.#drainFailures = meter.createCounter('zonetap.receiver.drain.failures', {
      description: 'Drains that failed; if after the table swap, the flows read before the failure are lost',
    });
    this.#statsErrors = meter.createCounter('zonetap.receiver.drain.stats_errors', {
      description: 'Errors reading the overflow counters or program stats after a drain (the drained flows are still handed on)',
    });
    this.#flowsPerDrain = meter.createHistogram('zonetap.receiver.drain.flows', {
      description: 'Flows read from the kernel per drain',
      advice: { explicitBucketBoundaries: [0, 10, 100, 1_000, 10_000, 65_536, 262_144, 1_048_576, 4_194_304] },
    });
    this.#drainSeconds = meter.createHistogram('zonetap.receiver.drain.duration_seconds', {
      description: 'Time to swap and drain the kernel flow table',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5] },
    });
    meter
      .createObservableGauge('zonetap.receiver.table.fill_ratio', { description: 'Flows in the last drain divided by max_flows' })
      .addCallback((result) => result.observe(this.#fillRatio, this.#attributes));
    meter
      // In seconds, Prometheus' and OpenTelemetry's base unit (about 1e-7): the unit is in the name, which the JS exporter does not add.
      .createObservableGauge('zonetap.receiver.bpf.run_time_per_packet_seconds', {
        description: 'Average run time of the eBPF program per hook call over the last interval (needs sysctl kernel.bpf_stats_enabled=1)',
        unit: 's',
      })
      .addCallback((result) => {
        if (this.#nsPerPacket !== undefined) result.observe(this.#nsPerPacket / 1e9, this.#attributes);
      });
  }

  /** Kernel ids of the attached programs (one per family) while started, for `bpftool prog show id N`. */
  get programIds(): number[] {
    return this.#table?.programInfo().ids ?? [];
  }

  async start(): Promise<void> {
    const { max_flows, ip_families, netns } = this.#config;
    this.#table = KernelFlowTable.open({ maxFlows: max_flows, families: ip_families, ...(netns ? { netns } : {}) });
    this.#lastDrain = Date.now();
    this.#lastOverflow = this.#table.overflow();
    this.#settings.logger.info({ max_flows, ip_families, netns, interval_ms: this.#config.interval }, 'counting flows at netfilter POSTROUTING');
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#draining = this.#drain()
        .catch((err: unknown) => this.#settings.logger.error({ err }, DRAIN_FAILED))
        .finally(() => {
          this.#draining = undefined;
          if (!this.#stopping) this.#schedule();
        });
    }, this.#config.interval);
  }

  /** One drain: swap tables, read them, add overflow, hand the batch on. */
  async #drain(): Promise<void> {
    const table = this.#table;
    if (!table) return;
    const started = performance.now();
    const end = Date.now();
    let flows: FlowRecord[];
    try {
      flows = await table.drain();
    } catch (err) {
      this.#drainFailures.add(1, this.#attributes);
      throw err;
    }
    // From here on nothing may discard the drained flows: they are out of the
    // kernel. A step that fails is logged and counted, and the batch still goes on.
    const overflow = this.#afterDrain('read overflow counters', () => table.overflow());
    this.#drainSeconds.record((performance.now() - started) / 1000, this.#attributes);
    this.#flowsPerDrain.record(flows.length, this.#attributes);
    this.#fillRatio = flows.length / this.#config.max_flows;
    this.#afterDrain('read program stats', () => this.#readProgramStats(table));

    const records = this.#filter(flows);
    // Without overflow counters this drain reports none; the counters are
    // monotonic, so the next drain that reads them reports the difference.
    if (overflow !== undefined) this.#addOverflow(records, overflow);
    const batch: FlowBatch = { start: this.#lastDrain, end, records };
    this.#lastDrain = end;
    if (records.length === 0) return;
    try {
      await this.#next.consume(batch);
    } catch (err) {
      this.#settings.logger.warn({ err, records: records.length }, 'next consumer rejected a flow batch');
    }
  }

  /** `step`'s result, or undefined (logged and counted) if it throws. */
  #afterDrain<T>(what: string, step: () => T): T | undefined {
    try {
      return step();
    } catch (err) {
      this.#statsErrors.add(1, this.#attributes);
      this.#settings.logger.warn({ err }, `cannot ${what} after a drain; the drained flows are still handed on`);
      return undefined;
    }
  }

  /** Appends one overflow record per family with traffic since the last read. */
  #addOverflow(records: FlowRecord[], overflow: Record<IpFamily, OverflowCounters>): void {
    for (const ipFamily of ['ipv4', 'ipv6'] as const) {
      const now = overflow[ipFamily];
      const before = this.#lastOverflow[ipFamily];
      const bytes = now.bytes - before.bytes;
      const packets = now.packets - before.packets;
      this.#dropped.add(now.failedInserts - before.failedInserts, this.#attributes);
      if (packets === 0) continue;
      this.#overflowBytes.add(bytes, this.#attributes);
      this.#overflowPackets.add(packets, this.#attributes);
      records.push({ src: { address: '', port: 0 }, dst: { address: '', port: 0 }, transport: OVERFLOW_TRANSPORT, ipFamily, bytes, packets });
    }
    this.#lastOverflow = overflow;
  }

  #filter(flows: FlowRecord[]): FlowRecord[] {
    const { include_cidrs: include, exclude_cidrs: exclude } = this.#config;
    if (include.length === 0 && exclude.length === 0) return flows;
    const touches = (blocks: readonly Cidr[], r: FlowRecord) =>
      blocks.some((c) => cidrContains(c, r.src.address) || cidrContains(c, r.dst.address));
    const kept = flows.filter((r) => (include.length === 0 || touches(include, r)) && !touches(exclude, r));
    this.#filtered.add(flows.length - kept.length, this.#attributes);
    return kept;
  }

  #readProgramStats(table: KernelFlowTable): void {
    if (!bpfStatsEnabled()) {
      this.#nsPerPacket = undefined;
      return;
    }
    const now = table.programInfo();
    const runs = now.runCnt - this.#lastProgram.runCnt;
    if (runs > 0n) this.#nsPerPacket = Number(now.runTimeNs - this.#lastProgram.runTimeNs) / Number(runs);
    this.#lastProgram = now;
  }

  async shutdown(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#draining;
    const table = this.#table;
    if (!table) return;
    try {
      table.detach();
      await this.#drain();
    } catch (err) {
      this.#settings.logger.error({ err }, `final ${DRAIN_FAILED}`);
    } finally {
      table.close();
      this.#table = undefined;
    }
  }
}

/**
 * What a failed drain means (native/zonetap_native.cc, DrainWorker): a failure
 * before the table swap leaves every flow in the kernel; after it, the flows
 * already read (lookup-and-delete) are gone, and the unread rest stays in the
 * retired table, which the next drain reads again.
 */
const DRAIN_FAILED =
  'drain failed; if it failed after the table swap, the flows read before the failure are lost (the unread rest is read by the next drain); counted in zonetap_receiver_drain_failures_total';

function zero(): OverflowCounters {
  return { bytes: 0, packets: 0, failedInserts: 0 };
}

function bpfStatsEnabled(): boolean {
  try {
    return readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
