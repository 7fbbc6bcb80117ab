/**
 * Exact accounting from agents to every output of the gateways, under the
 * events of a real cluster's week. Real processes on loopback: three gateways
 * (`zonetap run`: otlp receiver -> prometheus, flowlog, otlp exporters), an
 * OTLP backend they export to, Debian's Prometheus scraping them every 500
 * ms, and per case an agent (`zonetap run`: replay -> otlp with delta
 * temporality, plus its own flow log) behind a TCP relay that plays the
 * Service and the network (relay.ts).
 *
 * Each case replays a known input under its own source namespace, so the
 * truth is the agent's own flow log for that namespace, and each output is
 * read for that namespace alone:
 * - flow logs: the sum over every gateway's flow log;
 * - Prometheus: Prometheus' own increase() over the case, summed over every
 *   series of every gateway (Prometheus.increase() says how extrapolation is
 *   kept out of it, and checks that no series ever falls below its last value
 *   except to 0, a restart);
 * - OTLP: what the backend turned the gateways' cumulative output into.
 *
 * Where the guarantee allows an error (README "Accounting guarantees"), the
 * bound is one export of the agent, from the input and the agent's pace
 * alone (oneExport()), not from anything the gateways did.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { settled, sleep, until } from '../support/poll.ts';
import { startPrometheus, type PrometheusServer } from '../support/prometheus.ts';
import { Agent, Gateway, OtlpBackend, OUTPUT_LAG_MS, TIMING, flowLogBytes, requestBytes, type AgentProtocol } from './fleet.ts';
import { Relay } from '../support/relay.ts';

const dir = mkdtempSync(join(tmpdir(), 'zt-accounting-'));
const INTERVALS = 60;
const SERIES = 3;

let backend: OtlpBackend;
let prometheus: PrometheusServer;
/** The gateways running now; every gateway that ever ran is in `fleet` (their outputs count). */
let live: Gateway[] = [];
const fleet: Gateway[] = [];
const relays: Relay[] = [];
const agents: Agent[] = [];

before(async () => {
  backend = await OtlpBackend.start();
  live = await Promise.all(['g0', 'g1', 'g2'].map((name) => Gateway.start(name, dir, backend.port)));
  fleet.push(...live);
  prometheus = await startPrometheus(dir, live.map((g) => g.metricsAddress), { scrapeMs: TIMING.scrapeMs });
  await prometheus.setTargets(live.map((g) => g.metricsAddress));
});

after(async () => {
  for (const a of agents) await a.process.stop(5000);
  for (const r of relays) await r.close();
  await Promise.all(fleet.map((g) => g.stop()));
  await prometheus?.stop();
  await backend?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** One case: an agent replaying INTERVALS recorded intervals of SERIES flows from namespace `name`, through its own relay. */
class Case {
  readonly name: string;
  readonly input: string;
  readonly relay: Relay;
  readonly agents: Agent[] = [];
  readonly startedMs = Date.now() - 1000;
  readonly protocol: AgentProtocol;

  private constructor(name: string, input: string, relay: Relay, protocol: AgentProtocol) {
    this.name = name;
    this.input = input;
    this.relay = relay;
    this.protocol = protocol;
  }

  static async start(name: string, gateway: Gateway, protocol: AgentProtocol = 'grpc'): Promise<Case> {
    const input = join(dir, `${name}.input.jsonl`);
    const t0 = Date.parse('2026-11-30T10:00:00.000Z');
    const lines: string[] = [];
    for (let i = 0; i < INTERVALS; i++) {
      const [start, end] = [new Date(t0 + i * 1000).toISOString(), new Date(t0 + (i + 1) * 1000).toISOString()];
      for (let k = 0; k < SERIES; k++) {
        const bytes = flowBytes(i, k);
        lines.push(JSON.stringify({ start, end, 'src.address': `10.1.0.${k + 1}`, 'k8s.src.namespace': name, 'k8s.src.name': `pod-${k}`, 'dst.address': '10.2.0.9', 'dst.port': 443, transport: 'tcp', bytes, packets: 1 }));
      }
    }
    writeFileSync(input, lines.join('\n') + '\n');
    const relay = await Relay.start(otlpPort(gateway, protocol));
    relays.push(relay);
    const c = new Case(name, input, relay, protocol);
    await c.startAgent();
    return c;
  }

  get agent(): Agent {
    return this.agents.at(-1)!;
  }

  /** The gateway's port for this case's protocol. */
  portOf(gateway: Gateway): number {
    return otlpPort(gateway, this.protocol);
  }

  async startAgent(): Promise<void> {
    const agent = await Agent.start(`${this.name}-agent${this.agents.length}`, dir, this.input, this.relay.port, this.protocol);
    this.agents.push(agent);
    agents.push(agent);
  }

  /** Waits until the current agent has counted `fraction` of the input. */
  async progress(fraction: number): Promise<void> {
    const lines = Math.ceil(fraction * INTERVALS) * SERIES;
    await until(`${this.name}: the agent to count ${fraction * 100}% of its input`, () => this.agent.lines() >= lines, { details: () => this.logs(), timeoutMs: 60_000 });
  }

  /** Lets the current agent replay all of its input, then stops it (SIGTERM: it flushes). */
  async finish(): Promise<void> {
    await this.progress(1);
    await this.agent.stop();
  }

  /** What the agents counted: their own flow logs. */
  truth(): number {
    return this.agents.reduce((n, a) => n + flowLogBytes(a.flowLog, this.name), 0);
  }

  /**
   * The most one export of the agent can carry: the input's largest run of
   * (interval + timeout) / replay interval + 1 recorded intervals (an export
   * is due an interval after the last one ended, and takes at most the
   * timeout). The replay and the exporter share one process, so a stalled
   * process stalls both.
   */
  oneExport(): number {
    const perInterval = Array.from({ length: INTERVALS }, (_, i) => intervalBytes(i));
    const run = Math.ceil((TIMING.agentExportMs + TIMING.agentTimeoutMs) / TIMING.replayMs) + 1;
    let most = 0;
    for (let i = 0; i + run <= INTERVALS; i++) most = Math.max(most, perInterval.slice(i, i + run).reduce((a, b) => a + b, 0));
    return most;
  }

  /** Every output, once none has changed for longer than any of them may lag (OUTPUT_LAG_MS) plus four intervals of the slowest feed. */
  outputs(): Promise<{ flowLogs: number; prometheus: number; otlp: number }> {
    const read = async () => ({
      flowLogs: fleet.reduce((n, g) => n + flowLogBytes(g.flowLog, this.name), 0),
      prometheus: await prometheus.increase(this.selector, this.startedMs),
      otlp: backend.bytes(this.name),
    });
    return settled(`${this.name}: outputs`, read, OUTPUT_LAG_MS + 4 * Math.max(TIMING.scrapeMs, TIMING.gatewayExportMs), { details: () => this.logs(), timeoutMs: 120_000 });
  }

  /** Per gateway: what its flow log holds of this case (by request) and Prometheus' last value of it: says where a difference came from. */
  async breakdown(): Promise<string> {
    const rows = await Promise.all(fleet.map(async (g) => {
      const requests = requestBytes(g.flowLog, this.name);
      if (requests.length === 0) return '';
      const scraped = await prometheus.lastValue(this.selector, g.metricsAddress, this.startedMs);
      return `${g.name}: flow log ${requests.reduce((a, b) => a + b, 0)} in ${requests.length} requests [${requests.join(' ')}], Prometheus last ${scraped}`;
    }));
    return rows.filter(Boolean).join('\n');
  }

  get selector(): string {
    return `zonetap_network_flow_bytes_total{k8s_src_namespace="${this.name}"}`;
  }

  logs(): string {
    return [...live.map((g) => g.logTail(15)), ...this.agents.map((a) => `--- ${a.process.name}:\n${a.process.logTail(15)}`), prometheus.log()].join('\n');
  }
}

/** A gateway's OTLP port for agents of `protocol`. */
function otlpPort(gateway: Gateway, protocol: AgentProtocol): number {
  return protocol === 'grpc' ? gateway.ports.otlp : gateway.ports.otlpHttp;
}

/** Bytes of series `k` in recorded interval `i` of a case's input. */
function flowBytes(i: number, k: number): number {
  return 1000 + 37 * i + 101 * k;
}

function intervalBytes(i: number): number {
  let total = 0;
  for (let k = 0; k < SERIES; k++) total += flowBytes(i, k);
  return total;
}

/** Puts the figures of a case in the test's output. */
async function report(t: TestContext, c: Case, out: Record<string, number>): Promise<void> {
  t.diagnostic(await c.breakdown());
  t.diagnostic(`${c.name}: truth ${c.truth()} bytes, one export at most ${c.oneExport()}; ${Object.entries(out).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}

/**
 * How many of a gateway's last requests (`applied`, in the order it applied
 * them) a counter showing `scraped` misses: the count after the first
 * requests that sum to `scraped`; undefined when no first requests do.
 */
function missedRequests(applied: readonly number[], scraped: number): number | undefined {
  let sum = 0;
  for (let i = 0; i <= applied.length; i++) {
    if (sum === scraped) return applied.length - i;
    sum += applied[i] ?? 0;
  }
  return undefined;
}

/** Every output equals the truth. */
function assertExact(out: { flowLogs: number; prometheus: number; otlp: number }, truth: number): void {
  assert.ok(truth > 0);
  assert.deepEqual(out, { flowLogs: truth, prometheus: truth, otlp: truth });
}

/** Nothing lost; at most `bound` counted twice. */
function assertNoLossAtMost(what: string, value: number, truth: number, bound: number): void {
  assert.ok(value >= truth && value <= truth + bound, `${what}: ${value} for a truth of ${truth}: must be in [truth, truth + ${bound}]`);
}

/** Restarts stopped gateways in place (same ports, empty state, as a restarted container). */
async function restartStopped(): Promise<void> {
  await Promise.all(live.filter((g) => !g.process?.running).map((g) => g.start()));
}

describe('accounting: agent -> OTLP -> gateways -> Prometheus, OTLP and flow logs', () => {
  // Each case starts with three running gateways, whatever the case before did to them.
  beforeEach(restartStopped);

  test('gateway SIGTERM: it finishes its requests, waits for a last scrape and flushes; the agent moves on; exact everywhere', async (t) => {
    const [g0, g1] = live as [Gateway, Gateway];
    const c = await Case.start('gateway-sigterm', g0);
    await c.progress(0.5);
    c.relay.route(g1.ports.otlp); // the Service stops sending to the terminating gateway
    await g0.stop();
    assert.equal(g0.process!.child.exitCode, 0, g0.logTail());
    await c.finish();
    const out = await c.outputs();
    await report(t, c, out);
    assertExact(out, c.truth());
  });

  test('gateway SIGKILL: flow logs lose nothing; Prometheus loses what g0 applied after its last scrape, OTLP what was not exported; a request in flight may count twice', async (t) => {
    const [g0, g1] = live as [Gateway, Gateway];
    const c = await Case.start('gateway-sigkill', g0);
    await c.progress(0.5);
    // A series is shown at 0 in its first render (new_series_at_zero), so until Prometheus has
    // scraped g0's counts of it, a kill loses all of them there by design: kill after that.
    await until('Prometheus to have scraped counts of it from g0', async () => (await prometheus.lastValue(c.selector, g0.metricsAddress, c.startedMs)) > 0, { details: () => c.logs() });
    await g0.kill();
    c.relay.route(g1.ports.otlp);
    c.relay.cut();
    await c.finish();
    const out = await c.outputs();
    const [truth, oneExport] = [c.truth(), c.oneExport()];
    const applied = requestBytes(g0.flowLog, c.name);
    const scraped = await prometheus.lastValue(c.selector, g0.metricsAddress, c.startedMs);
    const unscraped = applied.reduce((a, b) => a + b, 0) - scraped;
    const missed = missedRequests(applied, scraped);
    await report(t, c, { ...out, unscraped, ...(missed === undefined ? {} : { unscrapedRequests: missed }) });
    // What Prometheus missed is exactly the last requests g0 applied, those after the render its
    // last scrape was served. How many depends on when Prometheus last managed to scrape (a scrape
    // interval plus exposition_max_age when scrapes succeed; more on a loaded machine), not on g0:
    // no bound in bytes holds. Prometheus may also have shown the request g0 was writing when it was
    // killed (never acknowledged, so re-sent to g1): then it is ahead of the flow log by that one.
    assert.ok(
      unscraped < 0 ? -unscraped <= oneExport : missed !== undefined,
      `Prometheus' last value of g0 (${scraped}) is neither the sum of the first requests g0 applied [${applied.join(' ')}] nor that plus one request in flight`,
    );
    assertNoLossAtMost('flow logs', out.flowLogs, truth, oneExport);
    assertNoLossAtMost('Prometheus, with what it had not scraped', out.prometheus + unscraped, truth, oneExport);
    assert.ok(Math.abs(out.otlp - truth) <= oneExport, `OTLP: ${out.otlp} for a truth of ${truth}: at most one export (${oneExport}) off`);
  });

  test('rolling update of the three gateways (new pods on new addresses, SIGTERM to the old ones): exact everywhere', async (t) => {
    const c = await Case.start('rollout', live[0]!);
    // maxSurge 1, maxUnavailable 0: each new pod is up before its old one gets SIGTERM.
    const fresh = await Promise.all(live.map((g) => Gateway.start(`${g.name}r`, dir, backend.port)));
    fleet.push(...fresh);
    await prometheus.setTargets([...live, ...fresh].map((g) => g.metricsAddress));
    for (let i = 0; i < 3; i++) {
      await c.progress(0.2 + 0.25 * i);
      c.relay.route(fresh[i]!.ports.otlp);
      await live[i]!.stop();
      assert.equal(live[i]!.process!.child.exitCode, 0, live[i]!.logTail());
    }
    live = fresh;
    await c.finish();
    const out = await c.outputs();
    await report(t, c, out);
    assertExact(out, c.truth());
    await prometheus.setTargets(live.map((g) => g.metricsAddress));
  });

  test('agent failover to another gateway and back: no history moves, nothing is lost; a request in flight at a cut may count twice', async (t) => {
    const [g0, g1] = live as [Gateway, Gateway];
    const c = await Case.start('failover', g0);
    await c.progress(0.6);
    c.relay.route(g1.ports.otlp);
    c.relay.cut();
    await c.progress(0.8);
    c.relay.route(g0.ports.otlp);
    c.relay.cut();
    await c.finish();
    const out = await c.outputs();
    await report(t, c, out);
    for (const [what, value] of Object.entries(out)) assertNoLossAtMost(what, value, c.truth(), 2 * c.oneExport());
    assert.ok(requestBytes(g1.flowLog, c.name).length > 0, 'the agent did export to the second gateway');
  });

  test('lost acknowledgement: the gateway applied a request whose response never came back; the agent re-sends its open window to the same gateway; exact everywhere', async (t) => {
    const g0 = live[0]!;
    const c = await Case.start('lost-ack', g0);
    await c.progress(0.5);
    await loseOneAcknowledgement(c, g0);
    c.relay.cut();
    await c.finish();
    const out = await c.outputs();
    await report(t, c, out);
    assertExact(out, c.truth());
  });

  test('lost acknowledgement, then failover: the re-sent window goes to another gateway, which cannot know: at most that one export counts twice', async (t) => {
    const [g0, g1] = live as [Gateway, Gateway];
    const c = await Case.start('lost-ack-failover', g0);
    await c.progress(0.5);
    await loseOneAcknowledgement(c, g0);
    c.relay.route(g1.ports.otlp);
    c.relay.cut();
    await c.finish();
    const out = await c.outputs();
    await report(t, c, out);
    for (const [what, value] of Object.entries(out)) assertNoLossAtMost(what, value, c.truth(), c.oneExport());
  });

  test('network partition longer than the gateways\' stream_ttl: the agent keeps counting and delivers everything once when it heals; exact everywhere', async (t) => {
    const g0 = live[0]!;
    const c = await Case.start('partition', g0);
    await c.progress(0.3);
    const failed = await c.agent.failedExports();
    c.relay.partition();
    await until('the agent to fail a few exports', async () => (await c.agent.failedExports()) >= failed + 3, { details: () => c.logs() });
    // Pacing only: the partition lasts past the gateways' stream_ttl (2s).
    await sleep(3000);
    c.relay.route(g0.ports.otlp);
    c.relay.cut();
    await c.finish();
    const out = await c.outputs();
    await report(t, c, out);
    assertExact(out, c.truth());
  });

  test('over OTLP/HTTP: a lost acknowledgement, then a gateway SIGTERM and the agent moving on; exact everywhere', async (t) => {
    const [g0, g1] = live as [Gateway, Gateway];
    const c = await Case.start('http', g0, 'http/protobuf');
    await c.progress(0.3);
    await loseOneAcknowledgement(c, g0);
    c.relay.cut();
    await c.progress(0.6);
    c.relay.route(c.portOf(g1));
    await g0.stop();
    assert.equal(g0.process!.child.exitCode, 0, g0.logTail());
    await c.finish();
    const out = await c.outputs();
    await report(t, c, out);
    assertExact(out, c.truth());
    assert.ok(requestBytes(g0.flowLog, c.name).length > 0 && requestBytes(g1.flowLog, c.name).length > 0, 'both gateways applied some of it over HTTP');
  });

  test('agent SIGTERM mid-traffic: it flushes what it counted; exact everywhere', async (t) => {
    const c = await Case.start('agent-sigterm', live[1]!);
    await c.progress(0.5);
    await c.agent.stop();
    const truth = c.truth();
    assert.ok(truth < flowLogBytes(c.input, c.name), 'stopped before the end of its input');
    const out = await c.outputs();
    await report(t, c, out);
    assertExact(out, truth);
  });

  test('agent restart: a new process (a new stream) replays again; both counted once; exact everywhere', async (t) => {
    const c = await Case.start('agent-restart', live[2]!);
    await c.progress(0.4);
    await c.agent.stop();
    await c.startAgent();
    await c.finish();
    const truth = c.truth();
    assert.ok(truth > flowLogBytes(c.input, c.name), 'the second agent counted its input again');
    const out = await c.outputs();
    await report(t, c, out);
    assertExact(out, truth);
  });
});

/**
 * Makes the gateway apply a request whose response the relay drops, and waits
 * until the agent gave up on it (its timeout): the agent then holds a window
 * the gateway applied without knowing it.
 */
async function loseOneAcknowledgement(c: Case, gateway: Gateway): Promise<void> {
  const [applied, failed] = [await gateway.applied(), await c.agent.failedExports()];
  c.relay.loseResponses();
  await until('the gateway to apply a request whose response is lost', async () => (await gateway.applied()) > applied, { details: () => c.logs() });
  await until('the agent to give up waiting for it', async () => (await c.agent.failedExports()) > failed, { details: () => c.logs() });
  assert.ok(c.relay.droppedResponseBytes > 0);
}
