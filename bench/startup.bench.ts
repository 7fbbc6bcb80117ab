/**
 * Start-up benchmark (`node bench/startup.bench.ts`, no privileges): what
 * bin/zonetap costs before it does anything, beside bare Node.js
 * (`node -e 0`) measured in the same run, each run of one paired with a run
 * of the other:
 *
 * - `zonetap --version`;
 * - `zonetap validate` of config/agent.yaml and config/gateway.yaml (with the
 *   environment they expect);
 * - start-up to ready ("zonetap is ready" logged) of an agent-like
 *   configuration (config/agent.yaml with the replay receiver in place of
 *   netfilter, so that it needs no privileges, and a static inventory in
 *   place of the Kubernetes API) and of config/gateway.yaml, on loopback.
 *
 * Wall time from spawn to exit (or to ready), and peak resident memory: for
 * commands that exit, the process's own maxRSS written at exit by a preloaded
 * hook (the same for Node.js); for start-up, VmHWM from /proc at ready.
 * Medians of RUNS runs. `ZT_BENCH_ZONETAP=/other/checkout/bin/zonetap`
 * measures another checkout with the same configurations (before/after).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/loopback.ts';
import { REPO, ZONETAP } from '../test/support/processes.ts';
import { result } from './report.ts';

const RUNS = 7;
const zonetap = process.env.ZT_BENCH_ZONETAP ?? ZONETAP;
const node = process.execPath;
const work = mkdtempSync(join(tmpdir(), 'zt-bench-startup-'));
const rssHook = join(work, 'max-rss.mjs');
const rssFile = join(work, 'max-rss');
// Plain JavaScript: the hook must cost next to nothing, and the same for zonetap and Node.js.
writeFileSync(rssHook, `process.on('exit', () => process.getBuiltinModule('node:fs').appendFileSync(${JSON.stringify(rssFile)}, process.resourceUsage().maxRSS + '\\n'));\n`);
const tokenFile = join(work, 'token');
writeFileSync(tokenFile, 'bench-token\n');
const configEnv = { NODE_NAME: 'node-a', POD_IP: '127.0.0.1', ZONETAP_OTLP_TOKEN: 'bench-token', ZONETAP_OTLP_TOKEN_FILE: tokenFile };

interface Sample {
  wallMs: number;
  rssMiB: number;
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Runs a command to its end; wall time and the maxRSS its exit hook wrote. */
function exited(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Sample> {
  writeFileSync(rssFile, '');
  const started = performance.now();
  const child = spawn(command, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env, NODE_OPTIONS: `--import ${rssHook}` } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      const wallMs = performance.now() - started;
      if (code !== 0) return reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr}`));
      const kb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
      resolve({ wallMs, rssMiB: kb / 1024 });
    });
  });
}

/** Starts `zonetap run`; wall time to its "zonetap is ready" line, and VmHWM then. */
function ready(args: string[]): Promise<Sample> {
  const started = performance.now();
  const child = spawn(zonetap, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...configEnv } });
  let stderr = '';
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!stderr.includes('zonetap is ready')) return;
      const wallMs = performance.now() - started;
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]!;
      child.stderr.removeAllListeners('data');
      child.once('exit', () => resolve({ wallMs, rssMiB: Number(hwm) / 1024 }));
      child.kill('SIGTERM');
    });
    child.once('exit', (code) => {
      if (!stderr.includes('zonetap is ready')) reject(new Error(`zonetap ${args.join(' ')} exited ${code} before ready: ${stderr}`));
    });
  });
}

/** Configurations written for this run, on free loopback ports. */
async function configs(): Promise<{ agent: string; gateway: string }> {
  const [gatewayOtlp, gatewayOtlpHttp, prometheus, gatewayTelemetry, agentTelemetry] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const agent = join(work, 'agent-like.yaml');
  writeFileSync(
    agent,
    `# config/agent.yaml's pipeline, unprivileged: replay in place of netfilter, a static inventory in place of the API.
receivers:
  replay: { path: ${join(REPO, 'config/quickstart-flows.jsonl')}, interval: 10s, loop: true }
processors:
  k8sattributes: { source: static, inventory: ${join(REPO, 'config/demo-inventory.yaml')}, node_name: node-a, pod_delete_grace: 2m }
  aggregate: { by: pod }
exporters:
  otlp: { protocol: http/protobuf, endpoint: "127.0.0.1:${gatewayOtlpHttp}", headers: { authorization: Bearer bench-token }, tls: { insecure: true }, compression: gzip, interval: 10s, temporality: delta }
service:
  pipelines: { flows: { receivers: [replay], processors: [k8sattributes, aggregate], exporters: [otlp] } }
  telemetry: { metrics: { endpoint: "127.0.0.1:${agentTelemetry}" } }
`,
  );
  const gateway = join(work, 'gateway.yaml');
  const shipped = readFileSync(join(REPO, 'config/gateway.yaml'), 'utf8');
  writeFileSync(
    gateway,
    shipped
      .replace('0.0.0.0:4317', `127.0.0.1:${gatewayOtlp}`)
      .replace('0.0.0.0:4318', `127.0.0.1:${gatewayOtlpHttp}`)
      .replace('0.0.0.0:9464', `127.0.0.1:${prometheus}`)
      .replace('0.0.0.0:8888', `127.0.0.1:${gatewayTelemetry}`),
  );
  return { agent, gateway };
}

interface Case {
  name: string;
  zonetap: () => Promise<Sample>;
}

const { agent, gateway } = await configs();
const cases: Case[] = [
  { name: 'zonetap --version', zonetap: () => exited(zonetap, ['--version']) },
  { name: 'zonetap validate config/agent.yaml', zonetap: () => exited(zonetap, ['validate', '--config', 'config/agent.yaml'], configEnv) },
  { name: 'zonetap validate config/gateway.yaml', zonetap: () => exited(zonetap, ['validate', '--config', 'config/gateway.yaml'], configEnv) },
  { name: 'agent-like run, start-up to ready', zonetap: () => ready(['run', '--config', agent]) },
  { name: 'gateway run, start-up to ready', zonetap: () => ready(['run', '--config', gateway]) },
];

try {
  console.log(`start-up of ${zonetap}, median of ${RUNS} runs, each paired with bare Node.js (node -e 0)\n`);
  console.log('| command | wall ms | peak RSS MiB | node -e 0 wall ms | node -e 0 peak RSS MiB |');
  console.log('|---|---|---|---|---|');
  for (const c of cases) {
    const measured: Sample[] = [];
    const bare: Sample[] = [];
    await c.zonetap(); // warm-up: the page cache, not the figures
    for (let i = 0; i < RUNS; i++) {
      measured.push(await c.zonetap());
      bare.push(await exited(node, ['-e', '0']));
    }
    const m = { wall: median(measured.map((s) => s.wallMs)), rss: median(measured.map((s) => s.rssMiB)) };
    const b = { wall: median(bare.map((s) => s.wallMs)), rss: median(bare.map((s) => s.rssMiB)) };
    console.log(`| ${c.name} | ${m.wall.toFixed(0)} | ${m.rss.toFixed(1)} | ${b.wall.toFixed(0)} | ${b.rss.toFixed(1)} |`);
    result({
      measure: `${c.name}: wall time, peak RSS`,
      value: `${m.wall.toFixed(0)} ms, ${m.rss.toFixed(0)} MiB`,
      baseline: `node -e 0: ${b.wall.toFixed(0)} ms, ${b.rss.toFixed(0)} MiB`,
    });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
