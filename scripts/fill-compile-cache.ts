/**
 * Fills Node's compile cache (the directory in NODE_COMPILE_CACHE, which
 * bin/zonetap points at .tools/compile-cache) with every module a zonetap
 * command can load: the commands, the service, every built-in component and
 * the modules they import only when they start. deploy/Dockerfile runs it, so
 * a container with a read-only root file system finds everything compiled: a
 * TypeScript file missing from the cache makes Node strip its types at run
 * time, which loads the type stripper: 5 to 10 MB more resident for the life
 * of the agent (bench/agent.bench.ts with NODE_DISABLE_COMPILE_CACHE=1).
 *
 *   NODE_COMPILE_CACHE=.tools/compile-cache node scripts/fill-compile-cache.ts
 *
 * Nothing is run: importing defines, and cli/main.ts acts only as the main module.
 * cli/compile-cache.test.ts checks that a filled cache is complete.
 *
 * Node keeps one cache per set of V8 flags, and bin/zonetap starts Node with
 * the agent's default (`${ZONETAP_V8_FLAGS---max-opt=2}`) unless
 * ZONETAP_V8_FLAGS says otherwise (the gateway: empty). So this script fills
 * both: it runs itself once with bin/zonetap's default flags, read from
 * bin/zonetap, and once with none.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { flushCompileCache, getCompileCacheDir } from 'node:module';
import { fileURLToPath } from 'node:url';

if (!process.env.NODE_COMPILE_CACHE) throw new Error('set NODE_COMPILE_CACHE to the directory to fill (bin/zonetap uses .tools/compile-cache)');

const CHILD = '--as-child';
if (!process.argv.includes(CHILD)) {
  const script = readFileSync(new URL('../bin/zonetap', import.meta.url), 'utf8');
  const lean = /\$\{ZONETAP_V8_FLAGS-([^}]*)\}/.exec(script)?.[1];
  if (lean === undefined) throw new Error('bin/zonetap: no ${ZONETAP_V8_FLAGS-...} default found');
  for (const flags of [lean.split(/\s+/).filter(Boolean), []]) {
    const child = spawnSync(process.execPath, [...flags, fileURLToPath(import.meta.url), CHILD], { stdio: 'inherit' });
    if (child.status !== 0) throw new Error(`filling the compile cache with V8 flags [${flags.join(' ')}] failed: exit ${child.status}`);
  }
  process.exit(0);
}

/** What each command loads (cli/main.ts, cli/commands.ts), beyond what these import statically. */
const COMMANDS = [
  '../cli/main.ts',
  '../cli/commands.ts',
  '../cli/run.ts',
  '../cli/components.ts',
  '../cli/advise.ts',
  '../pipeline/config/load.ts',
  '../pipeline/config/problems.ts',
  '../pipeline/config/sources.ts',
  '../pipeline/schema.ts',
  '../pipeline/version.ts',
  '../sim/demo.ts',
];
/** Every built-in component (cli/catalogue.ts loads each when a configuration uses it). */
const COMPONENTS = ['../cli/factories.ts'];
/** Imported by components only when they start (the transports a configuration chooses). */
const ON_START = ['../receivers/otlp/grpc.ts', '../receivers/otlp/http.ts', '../exporters/otlp/transport.ts'];

/**
 * build/zonetap.mjs and its chunks (scripts/bundle.ts), which bin/zonetap runs instead of the
 * sources when they are up to date: as the sources, importing defines only (the entry acts as
 * cli/main.ts only as the main module). The sources are cached too, for a bundle found stale
 * and for ZONETAP_FROM_SOURCES=1.
 */
const BUNDLE_DIR = new URL('../build/', import.meta.url);
const bundle = existsSync(BUNDLE_DIR) ? readdirSync(BUNDLE_DIR).filter((f) => f.endsWith('.mjs')).map((f) => new URL(f, BUNDLE_DIR).href) : [];

for (const module of [...COMMANDS, ...COMPONENTS, ...ON_START, ...bundle]) await import(module);
flushCompileCache();
console.log(`compile cache filled: ${getCompileCacheDir()} (V8 flags: ${process.execArgv.join(' ') || 'none'})`);
