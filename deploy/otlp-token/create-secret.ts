/**
 * The program of the Job zonetap-otlp-token (deploy/kubernetes/overlays/gateway/otlp-token.yaml):
 * creates the Secret that holds the bearer token agents present to the gateway, once. A Secret
 * that already exists is left as it is (a token from an earlier run, or one the user made
 * beforehand), so the Job can run any number of times and never rotates the token by itself.
 * It only ever creates: its Role grants `create` on secrets and nothing else.
 *
 * Usage: node create-secret.ts --namespace NS --name NAME   (in-cluster service account, or $KUBECONFIG)
 * Exit 0 when the Secret exists afterwards, 1 otherwise (the Job retries with backoff).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { describeError, KubeApiClient, KubeApiError, loadKubeConfig } from '../../processors/k8sattributes/index.ts';

/** Key of the token in the Secret; the gateway mounts it as a file of this name. */
export const TOKEN_KEY = 'token';
/** 32 random bytes: as hard to guess as a 256-bit key. base64url: no characters a header would mangle. */
export const TOKEN_BYTES = 32;

export type Outcome = 'created' | 'exists';

/** How long the API server may stay silent on the request. */
const TIMEOUT_MS = 30_000;

/** Creates Secret `name` in `namespace` with a new random token, unless it exists. */
export async function createTokenSecret(api: KubeApiClient, namespace: string, name: string): Promise<Outcome> {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  const body = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/name': 'zonetap', 'app.kubernetes.io/part-of': 'zonetap', 'app.kubernetes.io/component': 'otlp-token' },
    },
    type: 'Opaque',
    data: { [TOKEN_KEY]: Buffer.from(token).toString('base64') },
  };
  try {
    await api.create(`/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`, body, AbortSignal.timeout(TIMEOUT_MS), TIMEOUT_MS);
    return 'created';
  } catch (err) {
    if (err instanceof KubeApiError && err.code === 409) return 'exists';
    throw err;
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { namespace: { type: 'string' }, name: { type: 'string' } } });
  if (!values.namespace || !values.name) {
    console.error('usage: create-secret.ts --namespace NS --name NAME');
    process.exit(2);
  }
  try {
    // As the agent finds its API server: in-cluster service account, then $KUBECONFIG.
    const api = new KubeApiClient(loadKubeConfig(undefined).target);
    const outcome = await createTokenSecret(api, values.namespace, values.name);
    api.close();
    console.log(outcome === 'created' ? `created Secret ${values.namespace}/${values.name} with a new token` : `Secret ${values.namespace}/${values.name} exists: left as it is`);
  } catch (err) {
    console.error(`could not create Secret ${values.namespace}/${values.name}: ${describeError(err)}`);
    process.exit(1);
  }
}
