/**
 * Worker thread of config-fuzz.test.ts: loads each configuration file it is
 * sent with the real loader and every built-in factory, and answers what
 * happened. A worker, so that the test can bound its memory
 * (resourceLimits) and end it if a file makes it hang.
 */
import { parentPort } from 'node:worker_threads';
import { FACTORIES } from '../../cli/factories.ts';
import { loadConfig } from '../../pipeline/config/load.ts';
import { ConfigError } from '../../pipeline/config/problems.ts';
import { FactoryRegistry } from '../../pipeline/registry.ts';

export type FuzzOutcome =
  | { outcome: 'valid' }
  | { outcome: 'refused'; code: string; lines: string[]; message: string }
  | { outcome: 'crash'; error: string };

const registry = new FactoryRegistry(FACTORIES);
const port = parentPort!;

port.on('message', async ({ file, env }: { file: string; env: NodeJS.ProcessEnv }) => {
  let answer: FuzzOutcome;
  try {
    await loadConfig([file], registry, { env });
    answer = { outcome: 'valid' };
  } catch (err) {
    answer =
      err instanceof ConfigError
        ? { outcome: 'refused', code: err.code, lines: [...err.lines], message: err.message }
        : { outcome: 'crash', error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
  }
  port.postMessage(answer);
});
port.postMessage({ outcome: 'valid' }); // loaded: ready for files
