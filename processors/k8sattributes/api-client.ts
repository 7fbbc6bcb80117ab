/**
 * The two requests k8sattributes makes to the Kubernetes API, over node:http
 * and node:https: a GET answered with one JSON object (a list page), and a
 * watch (a GET answered with one JSON event per line until the server ends
 * it). Both are cut when the server falls silent for `idleMs`: a hung server
 * must not hold an informer forever.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { KubeApiTarget } from './kubeconfig.ts';

/** An answer other than 200: the Status the API server sent says why. */
export class KubeApiError extends Error {
  /** The HTTP status (410 for Gone). */
  readonly code: number;
  constructor(code: number, message: string | undefined, statusText: string | undefined) {
    super(`HTTP ${code}${message ? `: ${message}` : statusText ? ` ${statusText}` : ''}`);
    this.code = code;
  }
}

/** A watch event: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (whose object is a Status). */
export interface WatchEvent {
  type: string;
  object: any;
}

export type Query = Record<string, string | number | boolean | undefined>;

export class KubeApiClient {
  readonly #target: KubeApiTarget;
  readonly #agent: HttpAgent;
  readonly #https: boolean;

  constructor(target: KubeApiTarget) {
    this.#target = target;
    this.#https = target.server.startsWith('https:');
    const tls = { ca: target.ca, cert: target.cert, key: target.key, rejectUnauthorized: !target.insecure, servername: target.serverName };
    this.#agent = this.#https ? new HttpsAgent({ keepAlive: true, ...tls }) : new HttpAgent({ keepAlive: true });
  }

  /** GET `path` and parse the JSON answer. */
  async get(path: string, query: Query, signal: AbortSignal, idleMs: number): Promise<any> {
    const { response, cut } = await this.#open(path, query, signal, idleMs);
    let body = '';
    try {
      for await (const chunk of response) body += chunk;
    } catch (err) {
      throw cut() ?? err;
    }
    return JSON.parse(body);
  }

  /**
   * Watches `path` (`watch=true`): `onOpen` once the server has accepted it, then `onEvent`
   * for each event; resolves when the server ends the watch.
   */
  async watch(path: string, query: Query, onOpen: () => void, onEvent: (event: WatchEvent) => void, signal: AbortSignal, idleMs: number): Promise<void> {
    const { response, cut } = await this.#open(path, { ...query, watch: true }, signal, idleMs);
    onOpen();
    let rest = '';
    try {
      for await (const chunk of response) {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop()!;
        for (const line of lines) if (line.trim()) onEvent(JSON.parse(line) as WatchEvent);
      }
    } catch (err) {
      throw cut() ?? err;
    }
    if (rest.trim()) onEvent(JSON.parse(rest) as WatchEvent);
  }

  /** POSTs `body` (JSON) to `path`: resolves when it was created (201), rejects with a KubeApiError otherwise (409: it exists). */
  async create(path: string, body: unknown, signal: AbortSignal, idleMs: number): Promise<void> {
    const { response } = await this.#open(path, {}, signal, idleMs, JSON.stringify(body));
    response.resume();
  }

  close(): void {
    this.#agent.destroy();
  }

  /** Sends the GET; resolves with a 200 answer (as text) and `cut()`, the idle timeout's error once it has fired. */
  async #open(path: string, query: Query, signal: AbortSignal, idleMs: number, body?: string): Promise<{ response: IncomingMessage; cut: () => Error | undefined }> {
    const url = new URL(path, this.#target.server);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    const authorization = await this.#target.authorization();
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'zonetap' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (authorization) headers.authorization = authorization;
    const request = this.#https ? httpsRequest : httpRequest;
    let timedOut: Error | undefined;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(url, { method: body === undefined ? 'GET' : 'POST', agent: this.#agent, headers, signal }, resolve);
      req.on('error', reject);
      // Idle past idleMs (no answer, or no bytes of an answer): cut, as for a hung server.
      req.setTimeout(idleMs, () => {
        timedOut = Object.assign(new Error(`no answer from the API server for ${idleMs} ms`), { name: 'TimeoutError', code: 'ETIMEDOUT' });
        req.destroy(timedOut);
      });
      req.end(body);
    });
    response.setEncoding('utf8');
    if (response.statusCode !== (body === undefined ? 200 : 201)) {
      let body = '';
      for await (const chunk of response) body += chunk;
      let message: string | undefined;
      try {
        message = JSON.parse(body)?.message;
      } catch {
        message = body.slice(0, 200) || undefined;
      }
      throw new KubeApiError(response.statusCode ?? 0, message, response.statusMessage);
    }
    return { response, cut: () => timedOut };
  }
}
