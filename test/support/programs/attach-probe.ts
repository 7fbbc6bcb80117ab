/**
 * Child process of test/support/capabilities.ts: does with the kernel what the agent's netfilter receiver
 * does (receivers/netfilter/flow-table.ts: size, load, attach at POSTROUTING for IPv4 and IPv6 in
 * the current network namespace, read program info and overflow counters, drain) with whatever
 * capabilities it was started with. Prints one JSON line:
 * {"ok": true, "steps": [...]} or {"ok": false, "steps": [...], "error": "..."}.
 */
import { KernelFlowTable } from '../../../receivers/netfilter/flow-table.ts';

const steps: string[] = [];
let table: KernelFlowTable | undefined;
try {
  table = KernelFlowTable.open({ maxFlows: 1024, families: ['ipv4', 'ipv6'] });
  steps.push('load and attach');
  table.programInfo();
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
