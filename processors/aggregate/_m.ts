import { rollUp, rollUpEndpoint } from './rollup.ts';
import type { FlowRecord } from '../../pipeline/flow.ts';
const pods = Array.from({length: 10000}, (_, i) => ({ address: `10.0.${i>>8}.${i&255}`, port: 0, namespace: `ns-${i%40}`, pod: `app-${i%500}-${i}`, workloadKind: 'Deployment', workloadName: `app-${i%500}`, node: `node-${i%150}`, zone: `zone-${i%3}`, region: 'r1' }));
const recs: FlowRecord[] = [];
for (let i = 0; i < 100000; i++) recs.push({ src: { ...pods[(i*7919)%10000]!, port: 40000 }, dst: { ...pods[(i*104729)%10000]!, port: 80 }, transport: 'tcp', ipFamily: 'ipv4', bytes: 1, packets: 1 });
for (const level of ['pod','workload','namespace'] as const) {
  for (let k = 0; k < 3; k++) {
    let t = performance.now(); let n = 0;
    for (const r of recs) { n += rollUpEndpoint(r.src, level, true).address.length; }
    const a = performance.now() - t;
    t = performance.now();
    const out = rollUp(recs, level);
    const b = performance.now() - t;
    console.log(level, 'rollUpEndpoint ns/rec', (a*1e6/1e5).toFixed(0), 'rollUp ns/rec', (b*1e6/1e5).toFixed(0), out.length);
  }
}
