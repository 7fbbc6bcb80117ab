/**
 * Test support: a copy of what `bin/zonetap` runs from, readable by every
 * user. A test that runs zonetap as an unprivileged uid (the gateway's
 * runAsUser: 1000) cannot run it from a checkout that uid cannot read, such as
 * one under /root (mode 700); it runs this copy instead, rather than falling
 * back to another uid. The copy is large (node_modules and Node.js, ~300 MB):
 * make it only when the checkout is not readable.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './processes.ts';

/** What the zonetap command needs at run time: the container image copies the same (deploy/Dockerfile). */
const RUNTIME = ['package.json', 'bin', 'cli', 'net', 'pipeline', 'receivers', 'processors', 'exporters', 'advice', 'sim', 'config', 'native', 'bpf', 'deploy', 'node_modules'] as const;
/** The project's Node.js, which bin/zonetap runs (scripts/setup.sh installs it there). */
const NODE = join('.tools', 'node', 'bin', 'node');

export interface ReadableCopy {
  /** The copy's root: `bin/zonetap` and `.tools/node/bin/node` are under it. */
  root: string;
  /** The copy's bin/zonetap. */
  zonetap: string;
  /** The copy's Node.js. */
  node: string;
}

/**
 * Copies the checkout's runtime files and Node.js into a new directory under
 * the system's temporary directory, every directory searchable and every file
 * readable by all (execute bits kept). The caller removes `root` when done.
 */
export function readableCopy(): ReadableCopy {
  const root = mkdtempSync(join(tmpdir(), 'zt-checkout-'));
  execFileSync('cp', ['-a', '--reflink=auto', ...RUNTIME.map((entry) => join(REPO, entry)), root]);
  mkdirSync(join(root, NODE, '..'), { recursive: true });
  execFileSync('cp', ['-a', '--reflink=auto', join(REPO, NODE), join(root, NODE)]);
  // Modes as the checkout had them may be private (umask 077): open the copy, never the checkout.
  execFileSync('chmod', ['-R', 'a+rX', root]);
  chmodSync(root, 0o755);
  return { root, zonetap: join(root, 'bin', 'zonetap'), node: join(root, NODE) };
}
