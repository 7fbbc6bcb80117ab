/**
 * Child process of deploy.test.ts: does what the agent does with the kernel (open, load,
 * attach at netfilter POSTROUTING for IPv4 and IPv6 in the current network namespace, read
 * program and map info, drain the flow table) with whatever capabilities it was started with,
 * and prints one JSON line: {"ok": true, "steps": [...]} or {"ok": false, "steps": [...], "error": "..."}.
 */
import { FLOWS_OBJECT_PATH, NFPROTO_IPV4, NFPROTO_IPV6, openBpfObject } from '../../native/index.ts';
import type { BpfObject } from '../../native/index.ts';

const steps: string[] = [];
let flows: BpfObject | undefined;
try {
  flows = openBpfObject(FLOWS_OBJECT_PATH);
  flows.load();
  steps.push('load');
  flows.attachNetfilter('count_flows', NFPROTO_IPV4, -50);
  steps.push('attach ipv4');
  flows.attachNetfilter('count_flows', NFPROTO_IPV6, -50);
  steps.push('attach ipv6');
  flows.programInfo('count_flows');
  flows.mapInfo('overflow');
  steps.push('info');
  await flows.swapAndDrain('active_flows', 'flows_b', 'flows_a', 256);
  steps.push('drain');
  console.log(JSON.stringify({ ok: true, steps }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, steps, error: (err as Error).message }));
  process.exitCode = 1;
} finally {
  flows?.close();
}
