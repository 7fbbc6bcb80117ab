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
 * and writes nothing; with `--update` it also replaces those benchmarks' rows
 * and sections in bench/RESULTS.md and the README table (keeping the others'
 * from their last run) and says which were re-run, and when.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { RESULT_MARK, type BenchResult } from './report.ts';

const dir = import.meta.dirname;
const args = process.argv.slice(2);
const update = args.includes('--update');
const only = args.filter((a) => a !== '--update');
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

const resultsPath = join(dir, 'RESULTS.md');
const readmePath = join(dir, '..', 'README.md');
const begin = '<!-- bench-results:begin -->';
const end = '<!-- bench-results:end -->';

/** Writes RESULTS.md (`summary`, the headline table, the sections) and the README's table. */
function write(summary: string, table: string, sections: readonly string[]): void {
  writeFileSync(
    resultsPath,
    `# Benchmark results\n\nWritten by \`make bench\` (bench/run.ts); do not edit by hand. ${summary}\n` +
      `Figures swing with the load of the machine: each section gives the load average around its benchmark.\n\n` +
      `${table}\n\n${sections.join('\n\n')}\n`,
  );
  const readme = readFileSync(readmePath, 'utf8');
  const from = readme.indexOf(begin);
  const to = readme.indexOf(end);
  if (from >= 0 && to > from) {
    writeFileSync(readmePath, `${readme.slice(0, from + begin.length)}\n${summary} Full output: [bench/RESULTS.md](bench/RESULTS.md).\n\n${table}\n${readme.slice(to)}`);
  }
}

const section = (r: Run) => `## ${r.file}\n\n${r.status}, ${r.seconds.toFixed(0)} s, load average ${r.loadBefore.toFixed(1)} before, ${r.loadAfter.toFixed(1)} after\n\n\`\`\`\n${r.output.trim()}\n\`\`\``;
const now = () => new Date().toISOString().slice(0, 16).replace('T', ' ');

if (only.length === 0) {
  write(`Last full \`make bench\`: ${now()} UTC on ${machine()}.`, headlineTable(runs), runs.map(section));
  console.log(`\nwrote bench/RESULTS.md and the README's benchmark table`);
} else if (update) {
  // The last RESULTS.md, with the rows and sections of the benchmarks just run replaced.
  const old = readFileSync(resultsPath, 'utf8');
  const lines = old.split('\n');
  const tableStart = lines.findIndex((l) => l.startsWith('| benchmark |'));
  const rows = lines.slice(tableStart + 2, lines.indexOf('', tableStart));
  const files = [...new Set([...rows.map((r) => /^\| `([^`]+)`/.exec(r)?.[1] ?? ''), ...runs.map((r) => r.file)])].filter((f) => f !== '').sort();
  const oldSections = new Map(old.split(/\n(?=## )/).slice(1).map((t) => [t.slice(3, t.indexOf('\n')), t.trim()]));
  const rerun = new Map(runs.map((r) => [r.file, r]));
  const table = [
    ...lines.slice(tableStart, tableStart + 2),
    ...files.flatMap((f) => (rerun.has(f) ? headlineTable([rerun.get(f)!]).split('\n').slice(2) : rows.filter((r) => r.startsWith(`| \`${f}\``)))),
  ].join('\n');
  const sections = files.map((f) => (rerun.has(f) ? section(rerun.get(f)!) : oldSections.get(f))).filter((t) => t !== undefined);
  const last = /Last full `make bench`:.*$/m.exec(old)?.[0] ?? '';
  const summary = `${last.replace(/ Re-run since:.*$/, '')} Re-run since: ${runs.map((r) => `\`${r.file}\``).join(', ')} at ${now()} UTC.`;
  write(summary, table, sections);
  console.log(`\nreplaced ${runs.map((r) => r.file).join(', ')} in bench/RESULTS.md and the README's benchmark table`);
}
process.exit(runs.some((r) => r.status !== 'ok') ? 1 : 0);
