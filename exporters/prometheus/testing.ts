/** Test support: records shaped like k8sattributes output, and a parser for the text exposition format. */
import type { FlowEndpoint, FlowRecord, TrafficClass } from '../../pipeline/flow.ts';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (what /metrics serves) into samples; comments are skipped. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

export async function scrape(address: string): Promise<Sample[]> {
  const res = await fetch(`http://${address}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  return parseExposition(await res.text());
}

/** A pod endpoint as processors/k8sattributes describes it. */
export function pod(namespace: string, name: string, workload: string, node: string, zone: string, region = 'region-1', address = '10.0.0.1', port = 0): FlowEndpoint {
  return { address, port, namespace, pod: name, workloadKind: 'Deployment', workloadName: workload, node, zone, region };
}

export function flow(src: FlowEndpoint, dst: FlowEndpoint, bytes: number, packets: number, trafficClass?: TrafficClass, costUsd?: number): FlowRecord {
  const r: FlowRecord = { src, dst, transport: 'tcp', ipFamily: 'ipv4', bytes, packets };
  if (trafficClass) r.trafficClass = trafficClass;
  if (costUsd !== undefined) r.costUsd = costUsd;
  return r;
}
