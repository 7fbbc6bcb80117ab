/**
 * The settings both kernel receivers share (netfilter, cgroup): how often the
 * flow table is drained, its size, and the CIDR filters.
 */
import { z } from 'zod';
import { cidr, duration } from '../../pipeline/schema.ts';

export const kernelFlowsConfigShape = {
  /** How often the kernel flow table is drained, in ms after parsing. */
  interval: duration().prefault('10s'),
  /** Kernel flow table size; traffic of flows that find it full is counted as overflow. */
  max_flows: z
    .number({ error: 'expected a whole number of flows, like 65536' })
    .int({ error: 'expected a whole number of flows, like 65536' })
    .min(1, { error: 'max_flows must be at least 1' })
    .max(4_194_304, { error: 'max_flows must be at most 4194304 (each table preallocates about 130 bytes per flow)' })
    .default(65536),
  /** Keep only flows whose source or destination is in one of these blocks (empty: keep all). */
  include_cidrs: z.array(cidr()).default([]),
  /** Drop flows whose source or destination is in one of these blocks (applied after include_cidrs). */
  exclude_cidrs: z.array(cidr()).default([]),
};

const kernelFlowsConfigSchema = z.strictObject(kernelFlowsConfigShape);
export type KernelFlowsConfig = z.output<typeof kernelFlowsConfigSchema>;
