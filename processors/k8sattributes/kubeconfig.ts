/**
 * Reaching the Kubernetes API: finding the kubeconfig (explicit path,
 * in-cluster, $KUBECONFIG, ~/.kube/config), reading what a list and a watch
 * need from it (server, CA, client certificate, bearer token, exec plugin),
 * and saying what went wrong with a request in words a user can act on.
 *
 * Read here rather than with @kubernetes/client-node's KubeConfig: importing
 * that library costs an agent about 80 MB resident (it loads its whole
 * generated API), for the handful of fields below.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { ZonetapError } from '../../pipeline/errors.ts';
import { ExecCredentials, type ExecConfig } from './exec-credentials.ts';

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A token file (the service account's is rotated by the kubelet) is read again after this long. */
const TOKEN_FILE_TTL_MS = 60_000;

/** What a request to the API server needs, read from a kubeconfig or the in-cluster service account. */
export interface KubeApiTarget {
  /** e.g. https://10.96.0.1:443 */
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** insecure-skip-tls-verify */
  insecure: boolean;
  /** tls-server-name: the name to verify the server's certificate against. */
  serverName?: string;
  /** The Authorization header value, if any (token, token file, basic auth, exec plugin). */
  authorization(): Promise<string | undefined>;
}

const fail = (message: string, cause?: unknown) => new ZonetapError('ZT_KUBERNETES', message, { cause });

/** Finds the kubeconfig as processors/k8sattributes/README.md says: explicit path, in-cluster, $KUBECONFIG, ~/.kube/config. */
export function loadKubeConfig(path: string | undefined): { target: KubeApiTarget; origin: string } {
  if (path) return fromFile(path, 'processors::k8sattributes::kubeconfig');
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync(join(SERVICE_ACCOUNT, 'token'))) {
    return { target: inCluster(), origin: 'in-cluster service account' };
  }
  if (process.env.KUBECONFIG) return fromFile(process.env.KUBECONFIG.split(':')[0]!, '$KUBECONFIG');
  const home = join(homedir(), '.kube', 'config');
  if (existsSync(home)) return fromFile(home, 'default ~/.kube/config');
  throw fail(
    'no Kubernetes configuration found: not running in a cluster, $KUBECONFIG is unset and ~/.kube/config does not exist; ' +
      'set processors::k8sattributes::kubeconfig, or use source: static with an inventory file',
  );
}

function inCluster(): KubeApiTarget {
  const host = process.env.KUBERNETES_SERVICE_HOST!;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  const ca = join(SERVICE_ACCOUNT, 'ca.crt');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: existsSync(ca) ? readFileSync(ca) : undefined,
    insecure: false,
    authorization: tokenFile(join(SERVICE_ACCOUNT, 'token')),
  };
}

function fromFile(file: string, what: string): { target: KubeApiTarget; origin: string } {
  if (!existsSync(file)) {
    throw fail(`kubeconfig "${file}" (${what}) does not exist: fix the path, or use source: static with an inventory file`);
  }
  const problem = (message: string, cause?: unknown) => fail(`kubeconfig "${file}" (${what}) could not be read: ${message}`, cause);
  let doc: any;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw problem((err as Error).message, err);
  }
  const named = (list: unknown, name: unknown, key: string) => (Array.isArray(list) ? list.find((e: any) => e?.name === name)?.[key] : undefined);
  const context = named(doc?.contexts, doc?.['current-context'], 'context');
  const cluster = named(doc?.clusters, context?.cluster, 'cluster');
  if (!cluster?.server) throw fail(`kubeconfig "${file}" (${what}) has no current context with a cluster: set current-context`);
  const user = named(doc?.users, context?.user, 'user') ?? {};
  const base = dirname(file);
  /** A `<key>-data` (base64) or a `<key>` file path, relative to the kubeconfig's directory. */
  const material = (entry: any, key: string): Buffer | undefined => {
    if (entry[`${key}-data`]) return Buffer.from(String(entry[`${key}-data`]), 'base64');
    if (!entry[key]) return undefined;
    const path = isAbsolute(String(entry[key])) ? String(entry[key]) : join(base, String(entry[key]));
    try {
      return readFileSync(path);
    } catch (err) {
      throw problem(`${key} ${path}: ${(err as Error).message}`, err);
    }
  };
  if (user['auth-provider']) {
    throw problem(`users::${context.user}::auth-provider (${user['auth-provider']?.name}) is not supported: use an exec credential plugin (e.g. gke-gcloud-auth-plugin, aws eks get-token) or a token`);
  }
  return {
    origin: `kubeconfig "${file}"`,
    target: {
      server: String(cluster.server),
      ca: material(cluster, 'certificate-authority'),
      cert: material(user, 'client-certificate'),
      key: material(user, 'client-key'),
      insecure: cluster['insecure-skip-tls-verify'] === true,
      serverName: cluster['tls-server-name'] ? String(cluster['tls-server-name']) : undefined,
      authorization: authorization(user, base),
    },
  };
}

function authorization(user: any, base: string): () => Promise<string | undefined> {
  if (user.token) return async () => `Bearer ${String(user.token)}`;
  if (user.tokenFile) return tokenFile(isAbsolute(String(user.tokenFile)) ? String(user.tokenFile) : join(base, String(user.tokenFile)));
  if (user.username !== undefined && user.password !== undefined) {
    const basic = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
    return async () => basic;
  }
  if (user.exec) {
    const exec = new ExecCredentials(user.exec as ExecConfig, base);
    return () => exec.authorization();
  }
  return async () => undefined;
}

/** A bearer token read from a file, read again every minute (bound service account tokens rotate). */
function tokenFile(path: string): () => Promise<string | undefined> {
  let token = '';
  let readAt = -Infinity;
  return async () => {
    if (Date.now() - readAt > TOKEN_FILE_TTL_MS) {
      token = readFileSync(path, 'utf8').trim();
      readAt = Date.now();
    }
    return `Bearer ${token}`;
  };
}

/** "connect ECONNREFUSED 127.0.0.1:1" rather than a generic message. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: any = err;
  for (let depth = 0; cur && depth < 5; depth++) {
    if (cur instanceof AggregateError && cur.errors.length) cur = cur.errors[0];
    const code = cur.code ?? cur.statusCode;
    const msg = String(cur.message ?? cur);
    if (msg && !parts.includes(msg)) parts.push(code && !msg.includes(String(code)) ? `${msg} (${code})` : msg);
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
