/**
 * The simulated eBPF host-routing datapath (node option `datapath:
 * host-routing`): host-routing.bpf.c as a tc ingress program on a node's
 * pod-facing veths and its uplink, loaded by iproute2's tc. A packet it
 * routes goes from one device's ingress to another's egress without entering
 * the node's IP stack, so none of the node's netfilter hooks sees it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const HOST_ROUTING_OBJECT = fileURLToPath(new URL('./host-routing.bpf.o', import.meta.url));

function tc(netns: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', netns, 'tc', ...args], { encoding: 'utf8' }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`tc ${args.join(' ')} in ${netns} failed: ${stderr.trim() || error.message}`));
      else resolve();
    });
  });
}

/** Attaches the host-routing program at ingress of `device` in the node namespace `netns`. */
export async function routeAroundNetfilter(netns: string, device: string): Promise<void> {
  if (!existsSync(HOST_ROUTING_OBJECT)) throw new Error(`${HOST_ROUTING_OBJECT} is missing: run "make build"`);
  await tc(netns, ['qdisc', 'add', 'dev', device, 'clsact']);
  await tc(netns, ['filter', 'add', 'dev', device, 'ingress', 'bpf', 'direct-action', 'object-file', HOST_ROUTING_OBJECT, 'section', 'tc']);
}
