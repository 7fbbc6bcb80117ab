/**
 * build/zonetap.mjs (scripts/bundle.ts): bin/zonetap runs it while it is newer
 * than every file it was built from, and the sources as soon as one of them is
 * newer or missing, or with ZONETAP_FROM_SOURCES=1; both answer the same.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { REPO, run, ZONETAP } from '../test/support/processes.ts';

const INPUTS = join(REPO, 'build', 'zonetap.inputs');
/** Prints the main module of the process it is preloaded into, on stderr. */
const SHOW_MAIN = `--import data:text/javascript,${encodeURIComponent('process.stderr.write(`main=${process.argv[1]}\\n`)')}`;

async function zonetap(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ main: string; stdout: string }> {
  const r = await run(ZONETAP, args, { env: { ...process.env, ...env, NODE_OPTIONS: SHOW_MAIN } });
  assert.equal(r.code, 0, r.stderr);
  const main = /^main=(.*)$/m.exec(r.stderr)?.[1];
  assert.ok(main, r.stderr);
  return { main, stdout: r.stdout };
}

describe('bin/zonetap and build/zonetap.mjs', () => {
  before(async () => {
    const built = await run(process.execPath, [join(REPO, 'scripts', 'bundle.ts')], { cwd: REPO });
    assert.equal(built.code, 0, built.stderr);
  });

  it('runs the bundle when it is up to date, and it answers as the sources do', async () => {
    const bundled = await zonetap(['components', '--json']);
    assert.equal(bundled.main, join(REPO, 'build', 'zonetap.mjs'));
    const sources = await zonetap(['components', '--json'], { ZONETAP_FROM_SOURCES: '1' });
    assert.equal(sources.main, join(REPO, 'cli', 'main.ts'));
    assert.equal(bundled.stdout, sources.stdout);
  });

  it('runs the sources once a file the bundle was built from is newer', async () => {
    const inputs = readFileSync(INPUTS, 'utf8').trim().split('\n');
    assert.ok(inputs.includes('pipeline/version.ts') && inputs.includes('package-lock.json'), inputs.join(', '));
    const file = join(REPO, 'pipeline', 'version.ts');
    const { atime, mtime } = statSync(file);
    utimesSync(file, atime, new Date(Date.now() + 60_000));
    try {
      assert.equal((await zonetap(['--version'])).main, join(REPO, 'cli', 'main.ts'));
    } finally {
      utimesSync(file, atime, mtime);
    }
    assert.equal((await zonetap(['--version'])).main, join(REPO, 'build', 'zonetap.mjs'));
  });
});
