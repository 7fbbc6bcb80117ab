/**
 * SIGHUP reloads under traffic, end to end: `zonetap run` with the real
 * netfilter receiver in a network namespace the test creates, while known UDP
 * traffic flows and the configuration is reloaded several times (processors
 * and exporters added, replaced and removed; one configuration invalid). The
 * flow log the reloads keep is the truth: it must hold every byte sent,
 * once. The Prometheus exporter, kept too, must count the same bytes (its
 * counters survive), and the receiver must never have been re-attached (its
 * kernel tables survive). Needs root.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADDRESSES, NetnsPair } from './support/netns.ts';
import { until } from './support/poll.ts';
import { assertPrivileged, privileged } from './support/privileges.ts';
import { REPO, startProgram, ZONETAP } from './support/processes.ts';
import type { RunningProgram } from './support/processes.ts';
import { scrapeMetrics, sumOf } from './support/prometheus.ts';

/** UDP payloads each traffic run sends, ROUNDS times each, to port 9 of B; on the wire: IPv4 header + UDP header + payload. */
const PAYLOADS = [100, 1000];
const ROUNDS = 20;
const BYTES_PER_RUN = ROUNDS * PAYLOADS.reduce((sum, payload) => sum + 20 + 8 + payload, 0);

describe('SIGHUP reloads while traffic flows', privileged(), () => {
  const pair = new NetnsPair('zt-rl');
  const dir = mkdtempSync(join(tmpdir(), 'zt-reload-'));
  const config = join(dir, 'zonetap.yaml');
  const truth = join(dir, 'truth.jsonl');
  let zonetap: RunningProgram | undefined;

  before(() => {
    assertPrivileged();
    pair.create();
  });
  after(async () => {
    await zonetap?.stop('SIGKILL');
    pair.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The configuration: what never changes, plus the processors and extra exporters of this step. */
  function write(step: { processors: string; extra: string; pipelineProcessors: string[]; pipelineExtra: string[] }): void {
    writeFileSync(
      config,
      `receivers:
  netfilter: { netns: ${pair.pathA}, interval: 200ms, ip_families: [ipv4] }
processors:
${step.processors}
exporters:
  flowlog: { path: ${truth} }
  prometheus: { endpoint: 127.0.0.1:0 }
${step.extra}
service:
  pipelines:
    flows:
      receivers: [netfilter]
      processors: [${step.pipelineProcessors.join(', ')}]
      exporters: [flowlog, prometheus${step.pipelineExtra.map((e) => `, ${e}`).join('')}]
  telemetry: { metrics: { endpoint: 127.0.0.1:0 } }
`,
    );
  }

  const STEPS = {
    start: { processors: '  crosszone: {}', extra: '', pipelineProcessors: ['crosszone'], pipelineExtra: [] },
    // cost and a second flow log added
    added: {
      processors: '  crosszone: {}\n  cost: { provider: gcp }',
      extra: `  flowlog/extra: { path: ${join(dir, 'extra-1.jsonl')} }`,
      pipelineProcessors: ['crosszone', 'cost'],
      pipelineExtra: ['flowlog/extra'],
    },
    // the same with a misspelt provider: refused, the running configuration stays
    invalid: {
      processors: '  crosszone: {}\n  cost: { provider: gpc }',
      extra: `  flowlog/extra: { path: ${join(dir, 'extra-1.jsonl')} }`,
      pipelineProcessors: ['crosszone', 'cost'],
      pipelineExtra: ['flowlog/extra'],
    },
    // crosszone, cost and the second flow log replaced
    replaced: {
      processors: '  crosszone: { keep: [unknown, same_zone, cross_zone, cross_region, internet] }\n  cost: { provider: aws }',
      extra: `  flowlog/extra: { path: ${join(dir, 'extra-2.jsonl')} }`,
      pipelineProcessors: ['crosszone', 'cost'],
      pipelineExtra: ['flowlog/extra'],
    },
    // back to the start: cost and the second flow log removed
    removed: { processors: '  crosszone: {}', extra: '', pipelineProcessors: ['crosszone'], pipelineExtra: [] },
  };

  it('every byte sent is counted once, by the flow log and by Prometheus, across five reloads', async () => {
    write(STEPS.start);
    zonetap = startProgram(ZONETAP, ['run', '--config', config, '--shutdown-timeout', '10s'], { cwd: REPO });
    const running = zonetap;
    const logged = (message: string) => running.output().split(`"msg":"${message}"`).length - 1;
    const whenLogged = (message: string, times: number) =>
      until(`"${message}" logged ${times} times`, () => {
        assert.deepEqual([running.child.exitCode, running.child.signalCode], [null, null], `zonetap exited:\n${running.output()}`);
        return logged(message) >= times;
      }, { details: running.output });
    await whenLogged('zonetap is ready', 1);
    const prometheus = /"endpoint":"(127\.0\.0\.1:\d+)","msg":"serving Prometheus metrics"/.exec(running.output())![1]!;

    // Traffic from A to B, run after run, until the reloads are done.
    let runs = 0;
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        for (const payload of PAYLOADS) await pair.traffic(pair.a, ['udp', ADDRESSES.b4, '9', String(payload), String(ROUNDS)]);
        runs++;
      }
    })();
    const afterRuns = async (more: number) => {
      const target = runs + more;
      await until(`${more} more traffic runs`, () => runs >= target);
    };

    const reloads = [STEPS.added, STEPS.invalid, STEPS.replaced, STEPS.removed, STEPS.start];
    let reloaded = 0;
    let failed = 0;
    await afterRuns(2);
    for (const step of reloads) {
      write(step);
      running.child.kill('SIGHUP');
      if (step === STEPS.invalid) await whenLogged('configuration reload failed: configuration is invalid (1 problem); the running configuration stays in place', ++failed);
      else await whenLogged('configuration reloaded', ++reloaded);
      await afterRuns(2);
    }
    stop = true;
    await traffic;

    const sent = runs * BYTES_PER_RUN;
    const ours = (r: Record<string, unknown>) => r['dst.address'] === ADDRESSES.b4 && r['dst.port'] === 9 && r.transport === 'udp';
    const flowLogBytes = () =>
      readFileSync(truth, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter(ours)
        .reduce((sum, r) => sum + (r.bytes as number), 0);
    // The receiver drains every 200 ms: wait for the last drains, then a while more must change nothing.
    await until('the flow log to hold every byte sent', () => flowLogBytes() >= sent, { details: running.output });
    // A label set new to the exposition is served at 0 once (exporters/prometheus "What Prometheus sees"): scrape until it shows its count.
    const udpBytes = (samples: Awaited<ReturnType<typeof scrapeMetrics>>) => sumOf(samples, 'zonetap_network_flow_bytes_total', { transport: 'udp', network_type: 'ipv4' });
    const counted = await until('Prometheus to show the counts', async () => {
      const samples = await scrapeMetrics(prometheus);
      return udpBytes(samples) > 0 ? samples : undefined;
    }, { details: running.output });
    assert.equal(flowLogBytes(), sent, 'the flow log kept over the reloads holds every byte sent, once');
    assert.equal(udpBytes(counted), sent, 'the Prometheus counters carried over every reload');
    assert.ok(readFileSync(join(dir, 'extra-1.jsonl'), 'utf8').length > 0 && readFileSync(join(dir, 'extra-2.jsonl'), 'utf8').length > 0, 'added and replaced exporters received flows');

    assert.equal(running.output().split('"msg":"counting flows at netfilter POSTROUTING').length - 1, 1, 'the receiver was attached once: its kernel tables carried over');
    assert.match(running.output(), /"kept":\["\\"flowlog\\" exporter","\\"prometheus\\" exporter","\\"crosszone\\" processor in pipeline \\"flows\\"","\\"netfilter\\" receiver"\],"replaced":\[\],"added":\["\\"flowlog\/extra\\" exporter","\\"cost\\" processor in pipeline \\"flows\\""\]/);
    assert.match(running.output(), /"replaced":\["\\"flowlog\/extra\\" exporter","\\"crosszone\\" processor in pipeline \\"flows\\"","\\"cost\\" processor in pipeline \\"flows\\""\]/);
    assert.match(running.output(), /"problems":\["[^"]*zonetap\.yaml:\d+:\d+: processors::cost::provider: unknown provider \\"gpc\\"[^"]*"\]/);
    assert.equal(await running.stop('SIGTERM'), 0, running.output());
    assert.equal(flowLogBytes(), sent, 'the final drain at shutdown added nothing twice');
    assert.doesNotMatch(running.output(), /"level":"(error|fatal)"(?!.*configuration reload failed)/, 'no error but the refused configuration');
  });
});
