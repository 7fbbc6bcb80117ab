/**
 * The loader hook of slow-import.ts. It makes the held module start with a
 * top-level await that waits for the release file: the module's loading is
 * held back while the event loop goes on (and signal handlers run), as it
 * does between the modules of a real load.
 */
type LoadResult = { format: string; source?: string | ArrayBuffer | Uint8Array; shortCircuit?: boolean };
type NextLoad = (url: string, context: unknown) => Promise<LoadResult>;

export async function load(url: string, context: unknown, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context);
  const { ZT_TEST_SLOW_IMPORT: suffix, ZT_TEST_SLOW_IMPORT_MARKER: marker, ZT_TEST_SLOW_IMPORT_RELEASE: release } = process.env;
  if (!suffix || !marker || !release || !url.endsWith(suffix) || result.source === undefined) return result;
  const hold = `await (async () => {
    const { existsSync, writeFileSync } = await import('node:fs');
    writeFileSync(${JSON.stringify(marker)}, '');
    for (let waited = 0; !existsSync(${JSON.stringify(release)}) && waited < 60000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  })();
`;
  return { ...result, source: hold + new TextDecoder().decode(typeof result.source === 'string' ? new TextEncoder().encode(result.source) : result.source) };
}
