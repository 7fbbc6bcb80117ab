/**
 * Child process of test/support/capabilities.ts: does with the kernel what the agent's kernel receivers do
 * (native/flow-table.ts: size, load, attach the netfilter object at POSTROUTING for IPv4 and
 * IPv6 in the current network namespace, read program info and overflow counters, drain) with
 * whatever capabilities it was started with. Prints one JSON line:
 * {"ok": true, "steps": [...]} or {"ok": false, "steps": [...], "error": "..."}.
 */
import { KernelFlowTable } from '../../../native/index.ts';

const steps: string[] = [];
let table: KernelFlowTable | undefined;
try {
  table = KernelFlowTable.open({ kind: 'netfilter', maxFlows: 1024 });
  table.attachNetfilter('ipv4');
  table.attachNetfilter('ipv6');
  steps.push('load and attach');
  table.programs();
  table.overflow();
  steps.push('info');
  await table.drain();
  steps.push('drain');
  console.log(JSON.stringify({ ok: true, steps }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, steps, error: (err as Error).message }));
  process.exitCode = 1;
} finally {
  table?.close();
}
