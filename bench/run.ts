/**
 * `make bench`: runs every bench/*.bench.ts in its own process, one after the
 * other (benchmarks must not share the two cores), and prints their reports.
 * A benchmark prints its own table with the baseline measured in the same run.
 */
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const dir = import.meta.dirname;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const file of files) {
  console.log(`\n=== ${file} ===`);
  const res = spawnSync(process.execPath, ['--expose-gc', join(dir, file)], { stdio: 'inherit' });
  if (res.status !== 0) {
    failed++;
    console.log(`${file} failed (exit ${res.status ?? res.signal})`);
  }
}
process.exit(failed ? 1 : 0);
