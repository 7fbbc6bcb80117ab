/**
 * A kubeconfig's exec credential plugin (client.authentication.k8s.io:
 * `aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin`, ...): the
 * command is run without a terminal, its ExecCredential's `status.token` is
 * the bearer token, kept until its `expirationTimestamp` (or for good when it
 * has none), as kubectl does.
 */
import { execFile } from 'node:child_process';
import { isAbsolute, join } from 'node:path';

export interface ExecConfig {
  apiVersion?: string;
  command: string;
  args?: string[];
  env?: Array<{ name: string; value: string }>;
}

/** Ask for a new token this long before the current one expires. */
const EXPIRY_MARGIN_MS = 30_000;
const TIMEOUT_MS = 30_000;

export class ExecCredentials {
  readonly #config: ExecConfig;
  readonly #command: string;
  #token: string | undefined;
  #expires = 0;
  #running: Promise<string> | undefined;

  constructor(config: ExecConfig, kubeconfigDir: string) {
    this.#config = config;
    // A relative command with a slash is relative to the kubeconfig's directory; a bare name is looked up on PATH.
    const command = String(config.command);
    this.#command = command.includes('/') && !isAbsolute(command) ? join(kubeconfigDir, command) : command;
  }

  async authorization(): Promise<string> {
    if (this.#token === undefined || Date.now() > this.#expires - EXPIRY_MARGIN_MS) {
      this.#running ??= this.#run().finally(() => (this.#running = undefined));
      this.#token = await this.#running;
    }
    return `Bearer ${this.#token}`;
  }

  #run(): Promise<string> {
    const apiVersion = this.#config.apiVersion ?? 'client.authentication.k8s.io/v1';
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion, kind: 'ExecCredential', spec: { interactive: false } }) };
    for (const { name, value } of this.#config.env ?? []) env[name] = value;
    return new Promise((resolve, reject) => {
      execFile(this.#command, this.#config.args ?? [], { env, timeout: TIMEOUT_MS, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`exec credential plugin "${this.#command}" failed: ${(stderr || err.message).trim()}`, { cause: err }));
        try {
          const status = JSON.parse(stdout)?.status;
          if (typeof status?.token !== 'string') throw new Error('its ExecCredential has no status.token (client certificates from a plugin are not supported)');
          const expires = Date.parse(status.expirationTimestamp ?? '');
          this.#expires = Number.isNaN(expires) ? Infinity : expires;
          resolve(status.token);
        } catch (parseError) {
          reject(new Error(`exec credential plugin "${this.#command}": ${(parseError as Error).message}`));
        }
      });
    });
  }
}
