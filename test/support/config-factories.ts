/**
 * Small factories for the configuration tests, shaped like the real ones
 * (replay, cost, crosszone, flowlog, prometheus) so the broken configs in
 * testdata/ read like real configs. They validate with the real schema types.
 */
import { z } from 'zod';
import { READ_ONLY } from '../../pipeline/component.ts';
import type { Exporter, Factory, FlowConsumer, Processor, Receiver } from '../../pipeline/component.ts';
import { FactoryRegistry } from '../../pipeline/registry.ts';
import { cidr, duration, endpoint, existingFile } from '../../pipeline/schema.ts';

const idle = { capabilities: READ_ONLY, async start() {}, async shutdown() {} };

export const TEST_FACTORIES: Factory[] = [
  {
    kind: 'receiver',
    type: 'replay',
    stability: 'alpha',
    description: 'test replay',
    configSchema: z.strictObject({ path: existingFile(), interval: duration().default(1000 as never), loop: z.boolean().default(false) }),
    create: (): Receiver => ({ ...idle }),
  },
  {
    kind: 'processor',
    type: 'cost',
    stability: 'alpha',
    description: 'test cost',
    configSchema: z.strictObject({
      provider: z.enum(['gcp', 'aws', 'azure', 'custom']).default('gcp'),
      prices: z.strictObject({ cross_zone: z.number().min(0).optional(), internet: z.number().min(0).optional() }).prefault({}),
    }),
    create: (_s, _c, next: FlowConsumer): Processor => ({ ...idle, consume: (b) => next.consume(b) }),
  },
  {
    kind: 'processor',
    type: 'crosszone',
    stability: 'alpha',
    description: 'test crosszone',
    configSchema: z.strictObject({
      keep: z.array(z.enum(['same_zone', 'same_region', 'cross_zone', 'cross_region', 'internet', 'unknown'])).default(['cross_zone']),
      internal_cidrs: z.array(cidr()).default([]),
    }),
    create: (_s, _c, next: FlowConsumer): Processor => ({ ...idle, consume: (b) => next.consume(b) }),
  },
  {
    kind: 'exporter',
    type: 'flowlog',
    stability: 'alpha',
    description: 'test flowlog',
    configSchema: z.strictObject({ path: z.string().default('stdout') }),
    create: (): Exporter => ({ ...idle, async consume() {} }),
  },
  {
    kind: 'exporter',
    type: 'prometheus',
    stability: 'alpha',
    description: 'test prometheus',
    configSchema: z.strictObject({ endpoint: endpoint().default('127.0.0.1:9464'), max_series: z.number().int().min(1).default(10000) }),
    create: (): Exporter => ({ ...idle, async consume() {} }),
  },
];

export const testRegistry = () => new FactoryRegistry(TEST_FACTORIES);
