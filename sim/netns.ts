/**
 * The iproute2 commands the simulation runs. Teardown is synchronous on
 * purpose: it must also work from a process 'exit' handler.
 */
import { execFile, execFileSync } from 'node:child_process';

/** Runs `ip ARGS`; rejects with the command and ip's own message. */
export function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`ip ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** Runs many `ip` commands in one process inside `netns` (`ip -n NETNS -batch -`); stops at the first failure. */
export function ipBatch(netns: string, commands: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', ['-n', netns, '-batch', '-'], { encoding: 'utf8' }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`ip -n ${netns} -batch failed: ${stderr.trim() || error.message}\ncommands:\n  ${commands.join('\n  ')}`));
      else resolve();
    });
    child.stdin!.end(commands.join('\n') + '\n');
  });
}

/** Sets sysctls inside a namespace (`ip netns exec NETNS sysctl -qw ...`). */
export function sysctl(netns: string, settings: Record<string, string | number>): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = ['netns', 'exec', netns, 'sysctl', '-qw', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)];
    execFile('ip', args, { encoding: 'utf8' }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`sysctl in ${netns} failed: ${stderr.trim() || error.message}`));
      else resolve();
    });
  });
}

/** Names of the network namespaces in /run/netns. */
export function listNetns(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((n) => n.length > 0);
}

/** Kills (SIGKILL) every process inside `netns`, then deletes it. Missing namespaces are ignored. */
export function deleteNetns(netns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const pid of pids.split('\n').filter(Boolean).map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  } catch {
    return; // no such namespace
  }
  try {
    execFileSync('ip', ['netns', 'delete', netns], { stdio: 'ignore' });
  } catch {
    // deleted concurrently
  }
}

/** Deletes a link (both ends of a veth pair) inside a namespace; a missing one is ignored. */
export function deleteLink(netns: string, link: string): void {
  try {
    execFileSync('ip', ['-n', netns, 'link', 'delete', link], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/**
 * Removes every namespace whose name starts with `prefix` (and the processes in
 * it), e.g. what a crashed earlier run left behind. Links need no separate
 * step: the simulation never creates one in the root namespace, and a
 * namespace's links go with it. Returns the names removed.
 */
export function removeNamespaces(prefix: string): string[] {
  const stale = listNetns().filter((n) => n.startsWith(prefix));
  for (const netns of stale) deleteNetns(netns);
  return stale;
}
