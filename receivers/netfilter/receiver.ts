/**
 * The netfilter receiver: bpf/netfilter.bpf.c at netfilter POSTROUTING (one
 * link per family, inside `netns` when set), drained by the shared kernel
 * receiver (receivers/kernel). Linux >= 6.4.
 */
import type { ComponentSettings, FlowConsumer } from '../../pipeline/component.ts';
import { OVERFLOW_TRANSPORT } from '../../pipeline/flow.ts';
import { KernelFlowTable, netfilterPath, requireKernel, type SocketSourcesOptions } from '../../native/index.ts';
import { KernelReceiver, type KernelHook } from '../kernel/index.ts';
import type { NetfilterConfig } from './config.ts';

/**
 * Transport of the record that carries overflow: traffic whose flow found the
 * kernel table full. Its addresses are '' (unknown) and ports 0; with it the
 * bytes a batch reports add up to what the hook saw. Defined in pipeline/flow.ts
 * (processors recognise it too), re-exported here.
 */
export { OVERFLOW_TRANSPORT };

/** Counts flows leaving this node (or the namespace `netns`) at POSTROUTING. */
export class NetfilterReceiver extends KernelReceiver {
  constructor(settings: ComponentSettings, config: NetfilterConfig, next: FlowConsumer) {
    super(settings, config, next, netfilterHook(config));
  }
}

function netfilterHook(config: NetfilterConfig): KernelHook {
  return {
    kind: 'netfilter',
    open(sharing: SocketSourcesOptions | undefined) {
      requireKernel('netfilter');
      const { path, why } = netfilterPath(true);
      const table = KernelFlowTable.open({ kind: 'netfilter', maxFlows: config.max_flows, ...(sharing ? { socketSources: sharing } : {}) });
      try {
        for (const family of config.ip_families) table.attachNetfilter(family, config.netns);
      } catch (err) {
        table.close();
        throw err;
      }
      const alongside = sharing ? '; packets the cgroup receiver counted at their socket are skipped' : '';
      return {
        table,
        message: `counting flows at netfilter POSTROUTING: ${path} (${why})${alongside}`,
        fields: { receiver: 'netfilter', path, ip_families: config.ip_families, netns: config.netns, socket_sources: sharing?.mode ?? 'off' },
      };
    },
  };
}
