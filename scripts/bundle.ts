/**
 * Builds build/zonetap.mjs and its chunks (build/*.mjs): the zonetap command
 * (cli/main.ts and everything it can load) bundled and minified, which
 * bin/zonetap runs instead of the TypeScript sources whenever it is newer than
 * all of them (`make build` runs this script; README "The agent's footprint"
 * says why and what it saves).
 *
 *   node scripts/bundle.ts
 *
 * - esbuild (npm `esbuild`) strips the types, resolves every import and
 *   minifies: the agent's V8 then holds a few dozen modules and ~1.5 MB of
 *   source instead of ~1,000 modules and ~4 MB, and compiles only the
 *   functions that run. What a command imports on demand (cli/catalogue.ts:
 *   components only when a configuration uses them) is split into chunks
 *   loaded by the same import(): `--version` loads the entry alone.
 * - `@grpc/grpc-js` stays outside, loaded from node_modules: the official
 *   OTLP/gRPC exporter requires it at run time through createRequire, where no
 *   bundler sees it; bundled as well, the process would hold two copies.
 * - native/addon.ts finds the addon next to itself (import.meta.dirname); in
 *   the bundle that is build/, so the path is rewritten to native/ (a sibling
 *   of build/). The build fails if that expression is no longer there.
 * - `node:http` is bound to a module that names its exports one by one
 *   (httpWithoutWebSocket below): an ES module import of Node's own `http`
 *   reads every export, and three of them (WebSocket, CloseEvent,
 *   MessageEvent) load Node's copy of undici, about 14 MB resident that
 *   nothing in zonetap uses.
 * - build/zonetap.inputs lists the project's own files the bundle was built
 *   from, plus package.json, package-lock.json (node_modules) and this script:
 *   bin/zonetap runs the sources when any of them is newer than the bundle or
 *   missing, so a stale bundle never runs.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { build, type Plugin } from 'esbuild';

const ROOT = join(import.meta.dirname, '..');
const OUT_DIR = join(ROOT, 'build');
const INPUTS = join(OUT_DIR, 'zonetap.inputs');

/**
 * Loaded at run time from node_modules (see above). pino-pretty too: zonetap
 * import()s it, and esbuild gives a CommonJS package reached by import() in a
 * split bundle only its default export.
 */
const EXTERNAL = ['@grpc/grpc-js', 'pino-pretty'];

const ADDON_DIR_EXPRESSION = 'import.meta.dirname';

/** native/addon.ts's own directory, as seen from build/zonetap.mjs. */
const addonDirectory: Plugin = {
  name: 'zonetap-addon-directory',
  setup(b) {
    b.onLoad({ filter: /[\\/]native[\\/]addon\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(ADDON_DIR_EXPRESSION)) throw new Error(`${args.path} no longer locates the addon with ${ADDON_DIR_EXPRESSION}: update scripts/bundle.ts`);
      return { contents: source.replaceAll(ADDON_DIR_EXPRESSION, `(${ADDON_DIR_EXPRESSION} + '/../native')`), loader: 'ts' };
    });
  },
};

/** Exports of `node:http` that load undici when read; nothing in zonetap uses them. */
const UNDICI_EXPORTS = new Set(['WebSocket', 'CloseEvent', 'MessageEvent']);

/**
 * `http` and `node:http`, for zonetap and every package it bundles: the same
 * module object, but exported name by name without the undici ones, so that
 * importing it loads no undici (see the header).
 */
const httpWithoutWebSocket: Plugin = {
  name: 'zonetap-http-without-websocket',
  setup(b) {
    // require('http') reads no export, and keeps Node's own module object.
    b.onResolve({ filter: /^(node:)?http$/ }, (args) => (args.kind === 'require-call' ? undefined : { path: 'node:http', namespace: 'zonetap-http' }));
    b.onLoad({ filter: /.*/, namespace: 'zonetap-http' }, () => {
      const names = Object.getOwnPropertyNames(process.getBuiltinModule('node:http')).filter((name) => !UNDICI_EXPORTS.has(name));
      return { contents: `const http = process.getBuiltinModule('node:http');\nexport default http;\nexport const { ${names.join(', ')} } = http;\n`, loader: 'js' };
    });
  },
};

// The chunks of an earlier build, whose names change with their contents.
mkdirSync(OUT_DIR, { recursive: true });
for (const name of readdirSync(OUT_DIR, { withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.mjs'))) rmSync(join(OUT_DIR, name.name));

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: { zonetap: 'cli/main.ts' },
  outdir: OUT_DIR,
  outExtension: { '.js': '.mjs' },
  // What a command imports only when it needs it stays in chunks of its own: `--version` loads the entry alone.
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  minify: true,
  // CommonJS packages inside an ES module bundle call require() for Node's built-ins.
  banner: { js: "import { createRequire as __zonetapRequire } from 'node:module'; const require = __zonetapRequire(import.meta.url);" },
  external: EXTERNAL,
  plugins: [addonDirectory, httpWithoutWebSocket],
  metafile: true,
  logLevel: 'warning',
});

// Files only: not node_modules (package-lock.json stands for them), not a plugin's module ("namespace:path").
const own = Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('node_modules/') && !p.includes(':'));
writeFileSync(INPUTS, [...own, 'package-lock.json', 'scripts/bundle.ts'].map((p) => relative(ROOT, join(ROOT, p))).join('\n') + '\n');
console.log(`zonetap bundle: build/zonetap.mjs and its chunks from ${Object.keys(result.metafile.inputs).length} modules (${own.length} of zonetap's own)`);
