/**
 * Reaching the Kubernetes API: finding the kubeconfig (explicit path,
 * in-cluster, $KUBECONFIG, ~/.kube/config) and saying what went wrong with a
 * request in words a user can act on.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ZonetapError } from '../../pipeline/errors.ts';

/** Finds the kubeconfig as processors/k8sattributes/README.md says: explicit path, in-cluster, $KUBECONFIG, ~/.kube/config. */
export function loadKubeConfig(path: string | undefined): { config: KubeConfig; origin: string } {
  const config = new KubeConfig();
  const fail = (message: string, cause?: unknown) => new ZonetapError('ZT_KUBERNETES', message, { cause });
  const fromFile = (file: string, what: string) => {
    if (!existsSync(file)) {
      throw fail(`kubeconfig "${file}" (${what}) does not exist: fix the path, or use source: static with an inventory file`);
    }
    try {
      config.loadFromFile(file);
    } catch (err) {
      throw fail(`kubeconfig "${file}" (${what}) could not be read: ${(err as Error).message}`, err);
    }
    if (!config.getCurrentCluster()) throw fail(`kubeconfig "${file}" (${what}) has no current context with a cluster: set current-context`);
    return { config, origin: `kubeconfig "${file}"` };
  };
  if (path) return fromFile(path, 'processors::k8sattributes::kubeconfig');
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) {
    config.loadFromCluster();
    return { config, origin: 'in-cluster service account' };
  }
  if (process.env.KUBECONFIG) return fromFile(process.env.KUBECONFIG.split(':')[0]!, '$KUBECONFIG');
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromFile(home, 'default ~/.kube/config');
  throw fail(
    'no Kubernetes configuration found: not running in a cluster, $KUBECONFIG is unset and ~/.kube/config does not exist; ' +
      'set processors::k8sattributes::kubeconfig, or use source: static with an inventory file',
  );
}

/** "connect ECONNREFUSED 127.0.0.1:1" rather than "fetch failed". */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: any = err;
  for (let depth = 0; cur && depth < 5; depth++) {
    if (cur instanceof AggregateError && cur.errors.length) cur = cur.errors[0];
    if (typeof cur.code === 'number' && 'body' in cur) {
      // ApiException: the Status message the API server sent says more than the client's text.
      let body = cur.body;
      try {
        if (typeof body === 'string') body = JSON.parse(body);
      } catch {}
      parts.push(`HTTP ${cur.code}${body?.message ? `: ${body.message}` : ''}`);
      break;
    }
    const code = cur.code ?? cur.statusCode;
    const msg = String(cur.message ?? cur);
    if (msg && msg !== 'fetch failed' && !parts.includes(msg)) parts.push(code && !msg.includes(String(code)) ? `${msg} (${code})` : msg);
    cur = cur.cause;
  }
  return parts.join(': ') || String(err);
}

/** What to do about an API error, for the log line. */
export function hint(err: unknown): string {
  const text = describeError(err);
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|socket|other side closed/i.test(text)) {
    return 'check that the API server is running and that the kubeconfig points at it';
  }
  if (/\b(401|403)\b|Unauthorized|Forbidden/i.test(text)) {
    return 'grant zonetap list and watch on pods, nodes, replicasets and jobs (see deploy/)';
  }
  return 'retrying';
}
