/**
 * `make bench`: runs every bench/*.bench.ts in its own process, one after the
 * other (benchmarks must not share the two cores), and prints their reports.
 * A benchmark prints its own table with the baseline measured in the same
 * run, and hands its headline figures to result() (report.ts).
 *
 * A full run (no filter) writes bench/RESULTS.md (date, machine, load, the
 * headline table and every benchmark's full output) and replaces the table
 * between the bench-results markers in README.md, so the README quotes the
 * last run. `node bench/run.ts prometheus` runs the matching benchmarks only
 * and writes nothing.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { RESULT_MARK, type BenchResult } from './report.ts';

const dir = import.meta.dirname;
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

interface Run {
  file: string;
  output: string;
  results: BenchResult[];
  status: string;
  loadBefore: number;
  loadAfter: number;
  seconds: number;
}

/** Runs one benchmark, echoing its output as it comes, and keeps the output and its results. */
function runOne(file: string): Promise<Run> {
  const loadBefore = loadavg()[0]!;
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', join(dir, file)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      output += text;
      process.stdout.write(text.split('\n').filter((l) => !l.startsWith(RESULT_MARK)).join('\n'));
    });
    child.on('close', (code, signal) => {
      const results = output
        .split('\n')
        .filter((l) => l.startsWith(RESULT_MARK))
        .map((l) => JSON.parse(l.slice(RESULT_MARK.length)) as BenchResult);
      const text = output.split('\n').filter((l) => !l.startsWith(RESULT_MARK)).join('\n');
      resolve({ file, output: text, results, status: code === 0 ? 'ok' : `failed (exit ${code ?? signal})`, loadBefore, loadAfter: loadavg()[0]!, seconds: (performance.now() - started) / 1000 });
    });
  });
}

const cell = (text: string | undefined) => (text ?? '').replaceAll('|', '\\|');

function headlineTable(runs: readonly Run[]): string {
  const rows = runs.flatMap((r) => r.results.map((x) => `| \`${r.file}\` | ${cell(x.measure)} | ${cell(x.value)} | ${cell(x.baseline)} | ${cell(x.goal)} |`));
  return ['| benchmark | measure | zonetap | baseline (same run) | goal |', '|---|---|---|---|---|', ...rows].join('\n');
}

function machine(): string {
  return `${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
}

const runs: Run[] = [];
for (const file of files) {
  console.log(`\n=== ${file} ===`);
  const run = await runOne(file);
  runs.push(run);
  if (run.status !== 'ok') console.log(`${file} ${run.status}`);
}

if (only.length === 0) {
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const summary = `Last full \`make bench\`: ${date} UTC on ${machine()}.`;
  const sections = runs.map(
    (r) => `## ${r.file}\n\n${r.status}, ${r.seconds.toFixed(0)} s, load average ${r.loadBefore.toFixed(1)} before, ${r.loadAfter.toFixed(1)} after\n\n\`\`\`\n${r.output.trim()}\n\`\`\``,
  );
  writeFileSync(
    join(dir, 'RESULTS.md'),
    `# Benchmark results\n\nWritten by \`make bench\` (bench/run.ts); do not edit by hand. ${summary}\n` +
      `Figures swing with the load of the machine: each section gives the load average around its benchmark.\n\n` +
      `${headlineTable(runs)}\n\n${sections.join('\n\n')}\n`,
  );
  const readmePath = join(dir, '..', 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const begin = '<!-- bench-results:begin -->';
  const end = '<!-- bench-results:end -->';
  const from = readme.indexOf(begin);
  const to = readme.indexOf(end);
  if (from >= 0 && to > from) {
    writeFileSync(readmePath, `${readme.slice(0, from + begin.length)}\n${summary} Full output: [bench/RESULTS.md](bench/RESULTS.md).\n\n${headlineTable(runs)}\n${readme.slice(to)}`);
  }
  console.log(`\nwrote bench/RESULTS.md and the README's benchmark table`);
}
process.exit(runs.some((r) => r.status !== 'ok') ? 1 : 0);
