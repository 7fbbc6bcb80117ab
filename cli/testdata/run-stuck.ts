/**
 * Child-process fixture for run.test.ts: runService with a receiver that does
 * nothing and an exporter whose shutdown never finishes, so the shutdown
 * deadline and the second-signal exit can be observed from outside.
 * Usage: node run-stuck.ts CONFIG [shutdown-timeout-ms]
 */
import { z } from 'zod';
import { READ_ONLY } from '../../pipeline/component.ts';
import type { ExporterFactory, ReceiverFactory } from '../../pipeline/component.ts';
import { FactoryRegistry } from '../../pipeline/registry.ts';
import { runService } from '../run.ts';

const schema = z.strictObject({});
const base = { stability: 'development' as const, description: 'test', configSchema: schema };
const idle: ReceiverFactory = { ...base, kind: 'receiver', type: 'idle', create: () => ({ async start() {}, async shutdown() {} }) };
const stuck: ExporterFactory = {
  ...base,
  kind: 'exporter',
  type: 'stuck',
  create: () => ({ capabilities: READ_ONLY, async start() {}, shutdown: () => new Promise<void>(() => {}), async consume() {} }),
};

const [config, timeout] = process.argv.slice(2);
const code = await runService([config!], new FactoryRegistry([idle, stuck]), { shutdownTimeoutMs: timeout ? Number(timeout) : undefined });
process.exit(code);
