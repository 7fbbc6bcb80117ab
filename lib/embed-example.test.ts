/**
 * examples/embed as an embedder has it: its own package that depends on
 * zonetap by name (`file:../..`), installed with npm (offline: a file
 * dependency is a link, nothing is downloaded), type-checked with its own
 * tsconfig, and run: a replayed flow log through a custom processor and a
 * custom exporter, stopped with SIGTERM, prints the bill.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO, run } from '../test/support/processes.ts';

const EXAMPLE = join(REPO, 'examples', 'embed');
const project = mkdtempSync(join(tmpdir(), 'zt-embed-'));
after(() => rmSync(project, { recursive: true, force: true }));
/** The project's Node first, as `make` puts it: npm and the example run on Node 24. */
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };

/** Computed by hand from examples/embed/flows.jsonl: the 300-byte DNS flow and the 900-byte monitoring flow are under min_bytes 1000; gcp prices per GiB (2^30 bytes): $0.01 cross-zone, $0.12 internet, 0 same-zone (3,000,000 B: 3e6 / 2^30 x 0.01 = $0.0000279). */
const BILL = `Cross-zone bill of the replayed flows
shop/api cross_zone             3000000 B  $0.000028
shop/api internet               1000000 B  $0.000112
shop/api same_zone               500000 B  $0.000000
shop/postgres cross_zone        4000000 B  $0.000037
`;

describe('examples/embed, installed and run as an embedder would', () => {
  test('npm installs zonetap by name from the file: dependency, as a link to this checkout', async () => {
    const pkg = JSON.parse(readFileSync(join(EXAMPLE, 'package.json'), 'utf8'));
    assert.equal(pkg.dependencies.zonetap, 'file:../..', 'the example depends on the checkout it lives in');
    cpSync(EXAMPLE, project, { recursive: true, filter: (src) => !src.includes('node_modules') });
    // The same dependency from the temporary copy: ../.. of examples/embed is the checkout.
    pkg.dependencies.zonetap = `file:${REPO}`;
    writeFileSync(join(project, 'package.json'), JSON.stringify(pkg, null, 2));
    const installed = await run('npm', ['install', '--offline', '--no-audit', '--no-fund'], { cwd: project, env });
    assert.equal(installed.code, 0, installed.stdout + installed.stderr);
    const linked = join(project, 'node_modules', 'zonetap');
    assert.ok(lstatSync(linked).isSymbolicLink(), 'a file: dependency is linked, so Node runs zonetap\'s TypeScript outside node_modules');
    assert.equal(realpathSync(linked), realpathSync(REPO));
  });

  test('the example type-checks against the exported types with its own tsconfig', async () => {
    const checked = await run(join(REPO, 'node_modules', '.bin', 'tsc'), ['-p', project, '--typeRoots', join(REPO, 'node_modules', '@types')], { env });
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  });

  test('only the root module is importable by the package name', async () => {
    const probe = `for (const p of ['zonetap', 'zonetap/pipeline/service.ts', 'zonetap/lib/service.ts']) await import(p).then(() => console.log(p, 'ok'), (e) => console.log(p, e.code));`;
    const r = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: project, env });
    assert.equal(r.stdout, 'zonetap ok\nzonetap/pipeline/service.ts ERR_PACKAGE_PATH_NOT_EXPORTED\nzonetap/lib/service.ts ERR_PACKAGE_PATH_NOT_EXPORTED\n', r.stderr);
  });

  test('it replays the flow log through its custom processor and exporter, stops on SIGTERM and prints the bill', async () => {
    const child = spawn(process.execPath, ['main.ts'], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Three recorded intervals, one batch each, then it runs until it is stopped.
    const billed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`three batches not billed within 60 s:\n${stderr}`)), 60_000);
      child.stderr.on('data', (d) => {
        stderr += d;
        if ((stderr.match(/^billed /gm) ?? []).length === 3 && /^zonetap is running: http:\/\/127\.0\.0\.1:\d+\/metrics/m.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    try {
      await billed;
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    assert.deepEqual(stderr.match(/^billed .*$/gm), [
      'billed 2 flows of 2026-11-26T10:00:00.000Z',
      'billed 2 flows of 2026-11-26T10:00:10.000Z',
      'billed 1 flows of 2026-11-26T10:00:20.000Z',
    ]);
    assert.equal(stdout, BILL);
  });
});
