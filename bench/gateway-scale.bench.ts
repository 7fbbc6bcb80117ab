/**
 * One gateway at scale: 1,000 agents with 500 flow series each, exporting
 * every 10 s (issue goal "Gateway at scale"). The gateway is a real process
 * running the shipped config/gateway.yaml (otlp -> crosszone -> cost ->
 * prometheus, bearer token) with limits raised for this many streams; the
 * agents are one load generator in this process (test/support/agent-fleet.ts:
 * one node, service.instance.id and gRPC connection each, the agent's export
 * shape: delta windows acknowledged once, gzip), each sending at its own
 * moment of the interval, as unsynchronised agents do.
 *
 * Measured on the gateway process (/proc), with the same gateway idle before
 * any agent connects as the baseline:
 * - memory per stream: resident memory once every stream is known, less idle;
 * - CPU per interval: the first interval (every stream new) and the steady ones;
 * - `/metrics`: wall time of a full render, its size and the peak memory it takes.
 * Every point the agents sent must be accepted once, and every byte be on
 * `/metrics` once (when a render answers), or the run fails.
 *
 * ZT_GATEWAY_BENCH_AGENTS, _SERIES, _INTERVAL_MS and _ROUNDS change the load
 * (defaults 1000, 500, 10000, 4); _HEAP_MIB the gateway's heap limit (12288);
 * _NODE_OPTIONS adds Node options to the gateway (`--cpu-prof`, say).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentFleet } from '../test/support/agent-fleet.ts';
import { startShippedGateway } from '../test/support/gateways.ts';
import { sleep } from '../test/support/poll.ts';
import { scrapeMetrics, sumOf } from '../test/support/prometheus.ts';
import { cpuSeconds, median, peakRssMiB, rssMiB } from './process-stats.ts';
import { goal, result } from './report.ts';

function setting(name: string, fallback: number): number {
  const text = process.env[`ZT_GATEWAY_BENCH_${name}`];
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`ZT_GATEWAY_BENCH_${name}=${text}: expected a positive integer`);
  return value;
}
const AGENTS = setting('AGENTS', 1000);
const SERIES = setting('SERIES', 500);
const INTERVAL_MS = setting('INTERVAL_MS', 10_000);
const ROUNDS = setting('ROUNDS', 4);
/** The gateway's V8 heap limit: room for this load (the shipped Deployment sets 768 MiB for its 1 GiB limit). */
const HEAP_MIB = setting('HEAP_MIB', 12_288);
const STREAMS = AGENTS * SERIES;
const spread = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;

const dir = mkdtempSync(join(tmpdir(), 'zt-bench-gateway-'));
const token = 'bench-token';

console.log(`gateway at scale: ${AGENTS} agents x ${SERIES} series (${STREAMS.toLocaleString('en-US')} streams), one export each per ${INTERVAL_MS / 1000} s interval, ${ROUNDS} intervals`);
const buildStart = performance.now();
const fleet = agentFleet({ agents: AGENTS, series: SERIES, token });
console.log(`agents built in ${((performance.now() - buildStart) / 1000).toFixed(2)} s; one request: ${(fleet[0]!.requestBytes / 1024).toFixed(0)} KiB before gzip`);
const nodeOptions = `${process.env.ZT_GATEWAY_BENCH_NODE_OPTIONS ?? ''} --max-old-space-size=${HEAP_MIB}`.trim();
const gateway = await startShippedGateway('gateway', dir, token, { agents: AGENTS, streams: STREAMS }, { NODE_OPTIONS: nodeOptions });
const pid = gateway.process.child.pid!;

interface Render { seconds: number; cpu: number; bodyMiB: number; samples: number; flowBytes: number; peakMiB: number; failed?: string }

/**
 * One full GET /metrics, streamed (the body can pass V8's longest string):
 * time, CPU, size, samples, and the gateway's memory meanwhile. A render that
 * never answers (the exporter closes a connection idle for 30 s) is a figure
 * too: `failed` says why.
 */
async function render(): Promise<Render> {
  await sleep(1100); // past exposition_max_age (1 s): a render of its own, not the last one served again
  const cpu0 = cpuSeconds(pid);
  let peakMiB = rssMiB(pid);
  const sampler = setInterval(() => (peakMiB = Math.max(peakMiB, rssMiB(pid))), 50);
  const start = performance.now();
  const figures = { bytes: 0, samples: 0, flowBytes: 0 };
  let failed: string | undefined;
  try {
    const res = await fetch(gateway.metricsUrl, { signal: AbortSignal.timeout(600_000) });
    const body = Readable.fromWeb(res.body!);
    body.on('data', (chunk: Buffer) => (figures.bytes += chunk.length));
    for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
      if (line === '' || line.startsWith('#')) continue;
      figures.samples++;
      if (line.startsWith('zonetap_network_flow_bytes_total{')) figures.flowBytes += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  } catch (err) {
    failed = `${err instanceof Error ? err.message : String(err)}${err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : ''}`;
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - start) / 1000;
  return { seconds, cpu: cpuSeconds(pid) - cpu0, bodyMiB: figures.bytes / 2 ** 20, samples: figures.samples, flowBytes: figures.flowBytes, peakMiB: Math.max(peakMiB, rssMiB(pid)), ...(failed ? { failed } : {}) };
}

try {
  // Idle baseline: the same gateway, up and waiting, for one interval.
  await sleep(2000);
  const idleCpu0 = cpuSeconds(pid);
  await sleep(INTERVAL_MS);
  const idle = { cpu: cpuSeconds(pid) - idleCpu0, rss: rssMiB(pid), render: await render() };
  console.log(`idle gateway: ${idle.rss.toFixed(0)} MiB resident, ${idle.cpu.toFixed(2)} CPU-s per interval, /metrics in ${(idle.render.seconds * 1000).toFixed(0)} ms`);

  for (const agent of fleet) agent.route(gateway.otlp);
  const rounds: { cpu: number; seconds: number; rss: number }[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const start = performance.now();
    const cpu0 = cpuSeconds(pid);
    // Each agent exports at its own moment of the interval; a round ends when the interval
    // is over and every export of it was acknowledged (a gateway that falls behind stretches it).
    await Promise.all(fleet.map(async (agent, i) => {
      await sleep((i * INTERVAL_MS) / AGENTS);
      await agent.export();
    }));
    const left = INTERVAL_MS - (performance.now() - start);
    if (left > 0) await sleep(left);
    rounds.push({ cpu: cpuSeconds(pid) - cpu0, seconds: (performance.now() - start) / 1000, rss: rssMiB(pid) });
    const r = rounds.at(-1)!;
    console.log(`interval ${round}${round === 1 ? ' (every stream new)' : ''}: gateway ${r.cpu.toFixed(2)} CPU-s, ${r.rss.toFixed(0)} MiB resident; every export acknowledged and the interval over after ${r.seconds.toFixed(1)} s`);
  }
  const streams = sumOf(await scrapeMetrics(gateway.telemetry), 'zonetap_receiver_otlp_streams');
  const counted = sumOf(await scrapeMetrics(gateway.telemetry), 'zonetap_receiver_otlp_streams_memory_bytes');
  const connections = sumOf(await scrapeMetrics(gateway.telemetry), 'zonetap_receiver_otlp_connections');
  const accepted = sumOf(await scrapeMetrics(gateway.telemetry), 'zonetap_receiver_otlp_points_total', { outcome: 'accepted' });
  if (accepted !== 2 * STREAMS * ROUNDS) throw new Error(`the gateway accepted ${accepted} points, not the ${2 * STREAMS * ROUNDS} sent`);
  if (streams !== STREAMS) throw new Error(`the gateway holds ${streams} streams, not ${STREAMS}`);
  if (connections < AGENTS) throw new Error(`${connections} connections open, not one per agent (${AGENTS})`);
  const loadedRss = rssMiB(pid);
  const peakBeforeRender = peakRssMiB(pid);
  // New label sets are served at 0 until a render held them (exporters/prometheus "What Prometheus
  // sees"): the first render shows zeros, the later ones every count. All three cost the same.
  const renders = [await render(), await render(), await render()];

  const sent = fleet.reduce((n, a) => n + a.sentBytes, 0);
  const answered = renders.filter((r) => !r.failed);
  const last = renders.at(-1)!;
  if (!last.failed && last.flowBytes !== sent) throw new Error(`/metrics shows ${last.flowBytes} bytes, the agents sent ${sent}`);
  const steady = median(rounds.slice(1).map((r) => r.cpu));
  const perStreamKiB = ((loadedRss - idle.rss) * 1024) / STREAMS;
  const renderSeconds = median(renders.map((r) => r.seconds));
  const renderText = answered.length === renders.length
    ? `${renderSeconds.toFixed(2)} s (${spread(renders.map((r) => r.seconds), 2)}), ${median(renders.map((r) => r.cpu)).toFixed(1)} CPU-s, ${renders[0]!.bodyMiB.toFixed(0)} MiB, ${renders[0]!.samples.toLocaleString('en-US')} samples`
    : `${answered.length ? `${answered.length} answered in ${spread(answered.map((r) => r.seconds), 1)} s; ` : ''}${renders.length - answered.length} of ${renders.length} got no answer (${renders.find((r) => r.failed)!.failed}) after ${spread(renders.filter((r) => r.failed).map((r) => r.seconds), 1)} s`;

  console.log('');
  console.log(`| measure | ${AGENTS} agents x ${SERIES} series | idle gateway (baseline) |`);
  console.log('|---|---:|---:|');
  console.log(`| resident memory | ${loadedRss.toFixed(0)} MiB (${perStreamKiB.toFixed(2)} KiB per stream; receiver counts ${(counted / STREAMS / 1024).toFixed(2)} KiB) | ${idle.rss.toFixed(0)} MiB |`);
  console.log(`| CPU per interval, steady | ${steady.toFixed(2)} CPU-s (${spread(rounds.slice(1).map((r) => r.cpu), 2)}; ${((steady * 1e6) / STREAMS).toFixed(1)} us per stream) | ${idle.cpu.toFixed(2)} CPU-s |`);
  console.log(`| CPU of the first interval (every stream new) | ${rounds[0]!.cpu.toFixed(2)} CPU-s | |`);
  console.log(`| /metrics render | ${renderText} | ${(idle.render.seconds * 1000).toFixed(0)} ms, ${idle.render.samples} samples |`);
  console.log(`| peak resident memory | ingest ${peakBeforeRender.toFixed(0)} MiB; during a render ${Math.max(...renders.map((r) => r.peakMiB)).toFixed(0)} MiB | |`);
  console.log(`every point sent accepted once (${accepted.toLocaleString('en-US')})${last.failed ? '' : `, every byte sent (${sent.toLocaleString('en-US')}) on /metrics exactly once`}; ${connections} agent connections`);

  const load = `${AGENTS} agents x ${SERIES} series every ${INTERVAL_MS / 1000} s`;
  result({ measure: `gateway memory per stream (${load})`, value: `${perStreamKiB.toFixed(2)} KiB (${loadedRss.toFixed(0)} MiB resident)`, baseline: `idle gateway: ${idle.rss.toFixed(0)} MiB resident` });
  result({ measure: `gateway CPU per interval (${load})`, value: `${steady.toFixed(2)} CPU-s (first interval ${rounds[0]!.cpu.toFixed(2)})`, baseline: `idle gateway: ${idle.cpu.toFixed(2)} CPU-s`, goal: goal('keeps up with the interval on one core', steady < INTERVAL_MS / 1000) });
  result({ measure: `gateway /metrics render (${STREAMS.toLocaleString('en-US')} label sets)`, value: answered.length === renders.length ? `${renderSeconds.toFixed(1)} s, ${renders[0]!.bodyMiB.toFixed(0)} MiB` : 'no answer: the exporter closes a connection idle for 30 s', baseline: `idle gateway: ${(idle.render.seconds * 1000).toFixed(0)} ms` });
} catch (err) {
  console.error(`${err instanceof Error ? err.message : String(err)}\n--- gateway ${gateway.process.running ? 'log' : `exited (${gateway.process.child.exitCode ?? gateway.process.child.signalCode}), log`}:\n${gateway.process.logTail(30)}`);
  process.exitCode = 1;
} finally {
  for (const agent of fleet) agent.close();
  await gateway.process.stop(30_000);
  rmSync(dir, { recursive: true, force: true });
  console.log(`load average: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (2 cores)`);
}
