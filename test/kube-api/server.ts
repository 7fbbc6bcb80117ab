/**
 * A fake Kubernetes API server for tests: plain HTTP on 127.0.0.1, serving the
 * discovery documents kubectl needs and list + watch for pods, nodes,
 * namespaces, replicasets, jobs, secrets, services and endpointslices (and create, for the Job that
 * makes zonetap's OTLP token Secret) with the real server's semantics:
 * resourceVersion, limit/continue chunking over a consistent snapshot,
 * label and field selectors, chunked JSON-lines watch streams with
 * ADDED/MODIFIED/DELETED/BOOKMARK events, selector enter/leave on MODIFIED,
 * 410 Gone for versions older than the kept history, and server-side Table
 * output for kubectl. stop()/restart() drop every connection and come back on
 * the same port with the same objects, like an API server restart.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { ObjectStore, RESOURCES, apiVersionOf, type ResourceType, type StoredEvent } from './store.ts';
import { parseFieldSelector, parseLabelSelector, SelectorError, type KubeObject } from './selectors.ts';
import { isTableRequest, toTable } from './table.ts';

export interface FakeKubeApiServerOptions {
  /** Events kept for watches to resume from; older versions get 410 Gone. Default 10000. */
  historyLimit?: number;
  /** How often a watch with allowWatchBookmarks=true gets a BOOKMARK. Default 1000 ms. */
  bookmarkIntervalMs?: number;
  /** Answer `as=Table` requests with a Table (true, like a real server) or ignore it and send plain JSON (false). Default true. */
  serverSideTables?: boolean;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  accept: string;
}

interface OpenWatch {
  res: ServerResponse;
  resource: string;
  /** Set by hang(): the stream stays open but sends nothing more, ever (a hung watch). */
  frozen: boolean;
  close(): void;
}

const EXPIRED_CONTINUE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class FakeKubeApiServer {
  readonly store: ObjectStore;
  /** Every request served, in order (tests assert what the client asked for). */
  readonly requests: RequestRecord[] = [];
  readonly #options: Required<FakeKubeApiServerOptions>;
  readonly #sockets = new Set<Socket>();
  readonly #watches = new Set<OpenWatch>();
  readonly #snapshots = new Map<string, { rv: number; items: KubeObject[] }>();
  #server: Server | undefined;
  #port = 0;
  /** Resources answered with 403 Forbidden (RBAC not granted). */
  readonly forbidden = new Set<string>();
  /** Resources answered with 500 InternalError (etcd unavailable, say); open watches go on until endWatches(). */
  readonly failing = new Set<string>();
  /** While true, requests get no answer at all (the connection stays open); see hang(). */
  #hung = false;

  constructor(options: FakeKubeApiServerOptions = {}) {
    this.#options = { historyLimit: options.historyLimit ?? 10_000, bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000, serverSideTables: options.serverSideTables ?? true };
    this.store = new ObjectStore(this.#options.historyLimit);
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Number of watch streams currently open. */
  get openWatches(): number {
    return this.#watches.size;
  }

  /** Listens on 127.0.0.1 (a random port the first time, the same port after restart()). */
  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((req, res) => this.#handle(req, res));
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  /** Closes the listener and drops every connection, watches included. Objects are kept. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    for (const w of [...this.#watches]) w.close();
    for (const s of this.#sockets) s.destroy();
    this.#snapshots.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Compacts history (older versions and continue tokens become 410 Gone) and ends every open watch with a 410 ERROR event. */
  expireWatches(): void {
    this.store.compact();
    this.#snapshots.clear();
    for (const w of [...this.#watches]) {
      this.#writeEvent(w.res, { type: 'ERROR', object: status(410, 'Expired', 'too old resource version') });
      w.close();
    }
  }

  /** Ends the open watches (of `resource`, or all) cleanly, as a server does at timeoutSeconds: clients watch again. */
  endWatches(resource?: string): void {
    for (const w of [...this.#watches]) if (resource === undefined || w.resource === resource) w.close();
  }

  /**
   * A hung API server: from now on requests get no answer (headers neither),
   * and the open watches stay open but send nothing more, not even bookmarks.
   * resume() answers new requests again; what hung stays hung until the
   * client gives up on it (its own timeout), as with a real stuck server.
   */
  hang(): void {
    this.#hung = true;
    for (const w of this.#watches) w.frozen = true;
  }

  resume(): void {
    this.#hung = false;
  }

  /** Writes a kubeconfig pointing at this server (plain HTTP, no credentials). */
  writeKubeconfig(path: string): string {
    writeFileSync(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: ${this.url}`,
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: tester',
        '  user: {}',
        'contexts:',
        '- name: fake',
        '  context: {cluster: fake, user: tester}',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return path;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(url.searchParams);
    const accept = String(req.headers.accept ?? '');
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, accept });
    if (this.#hung) return;
    try {
      if (req.method !== 'GET' && req.method !== 'POST') return this.#json(res, 405, status(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
      const path = url.pathname.replace(/\/+$/, '');
      if (path === '/version') return this.#json(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0-zonetap-fake', platform: 'linux/amd64' });
      if (path === '/healthz' || path === '/readyz' || path === '/livez') return this.#text(res, 200, 'ok');
      if (path === '/api') return this.#json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${this.#port}` }] });
      if (path === '/apis') return this.#json(res, 200, this.#groupList());
      const m = /^\/(?:api\/(v1)|apis\/(apps|batch|discovery\.k8s\.io)\/(v1))(\/.*)?$/.exec(path);
      if (!m) return this.#json(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      const group = (m[2] ?? '') as ResourceType['group'];
      const rest = (m[4] ?? '').split('/').filter(Boolean);
      if (rest.length === 0) return this.#json(res, 200, this.#resourceList(group));
      let namespace: string | undefined;
      let resourceName: string;
      let name: string | undefined;
      if (rest[0] === 'namespaces' && rest.length >= 3) {
        namespace = rest[1];
        resourceName = rest[2]!;
        name = rest[3];
      } else {
        resourceName = rest[0]!;
        name = rest[1];
      }
      const resource = RESOURCES.find((r) => r.name === resourceName && r.group === group);
      if (!resource || (namespace !== undefined && !resource.namespaced) || rest.length > 4) {
        return this.#json(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      }
      if (req.method === 'POST' && name !== undefined) return this.#json(res, 405, status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
      if (this.forbidden.has(resource.name)) {
        const verb = req.method === 'POST' ? 'create' : name !== undefined ? 'get' : query.watch ? 'watch' : 'list';
        const scope = namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`;
        return this.#json(res, 403, {
          ...status(403, 'Forbidden', `${resource.name}${group ? `.${group}` : ''} is forbidden: User "system:anonymous" cannot ${verb} resource "${resource.name}" in API group "${group}" ${scope}`),
          details: { kind: resource.name, ...(group ? { group } : {}) },
        });
      }
      if (this.failing.has(resource.name)) {
        return this.#json(res, 500, status(500, 'InternalError', `an error on the server ("etcdserver: request timed out") has prevented the request from succeeding (${req.method === 'POST' ? 'create' : 'get'} ${resource.name})`));
      }
      if (req.method === 'POST') return void this.#create(req, res, resource, namespace).catch((err) => this.#json(res, 500, status(500, 'InternalError', String(err))));
      const table = this.#options.serverSideTables && isTableRequest(accept);
      if (name !== undefined) {
        const obj = this.store.get(resource.name, resource.namespaced ? namespace : undefined, name);
        if (!obj) return this.#json(res, 404, { ...status(404, 'NotFound', `${resource.name} "${name}" not found`), details: { name, kind: resource.name } });
        return this.#json(res, 200, table ? toTable(resource, [obj], String(this.store.resourceVersion)) : obj);
      }
      if (query.watch === '1' || query.watch === 'true') return this.#watch(req, res, resource, namespace, query, table);
      return this.#list(res, resource, namespace, query, table);
    } catch (err) {
      if (err instanceof SelectorError) return this.#json(res, 400, status(400, 'BadRequest', err.message));
      return this.#json(res, 500, status(500, 'InternalError', String(err)));
    }
  }

  /** POST to a collection: 201 with the stored object, 409 AlreadyExists, 400 for a body that is not an object of this resource. */
  async #create(req: IncomingMessage, res: ServerResponse, resource: ResourceType, namespace: string | undefined): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    let obj: KubeObject;
    try {
      obj = JSON.parse(body) as KubeObject;
    } catch {
      return this.#json(res, 400, status(400, 'BadRequest', 'the request body is not JSON'));
    }
    if (obj?.kind !== resource.kind || typeof obj.metadata?.name !== 'string') {
      return this.#json(res, 400, status(400, 'BadRequest', `expected a ${resource.kind} with metadata.name`));
    }
    if (resource.namespaced) {
      if (namespace === undefined) return this.#json(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      if (obj.metadata.namespace !== undefined && obj.metadata.namespace !== namespace) {
        return this.#json(res, 400, status(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
      }
      obj.metadata.namespace = namespace;
    }
    if (this.store.get(resource.name, resource.namespaced ? namespace : undefined, obj.metadata.name)) {
      return this.#json(res, 409, { ...status(409, 'AlreadyExists', `${resource.name} "${obj.metadata.name}" already exists`), details: { name: obj.metadata.name, kind: resource.name } });
    }
    this.#json(res, 201, this.store.create(resource.name, obj));
  }

  #selectorFor(resource: ResourceType, namespace: string | undefined, query: Record<string, string>): (obj: KubeObject) => boolean {
    const labels = parseLabelSelector(query.labelSelector);
    const fields = parseFieldSelector(query.fieldSelector, resource.fields);
    return (obj) => (namespace === undefined || obj.metadata.namespace === namespace) && labels(obj.metadata.labels) && fields(obj);
  }

  #list(res: ServerResponse, resource: ResourceType, namespace: string | undefined, query: Record<string, string>, table: boolean): void {
    const limit = query.limit ? Number(query.limit) : 0;
    let rv: number;
    let items: KubeObject[];
    let offset = 0;
    if (query.continue) {
      let token: { id: string; offset: number };
      try {
        token = JSON.parse(Buffer.from(query.continue, 'base64').toString('utf8'));
      } catch {
        return this.#json(res, 400, status(400, 'BadRequest', 'continue key is not valid'));
      }
      const snapshot = this.#snapshots.get(token.id);
      if (!snapshot) return this.#json(res, 410, status(410, 'Expired', EXPIRED_CONTINUE));
      ({ rv, items } = snapshot);
      offset = token.offset;
    } else {
      const asked = query.resourceVersion ? Number(query.resourceVersion) : 0;
      if (query.resourceVersionMatch === 'Exact' && asked !== this.store.resourceVersion) {
        return this.#json(res, 410, status(410, 'Expired', `too old resource version: ${asked} (${this.store.oldestValidVersion})`));
      }
      const selected = this.#selectorFor(resource, namespace, query);
      rv = this.store.resourceVersion;
      items = this.store
        .list(resource.name)
        .filter(selected)
        .sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
    }
    const page = limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset);
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    const next = offset + page.length;
    if (limit > 0 && next < items.length) {
      const id = query.continue ? JSON.parse(Buffer.from(query.continue, 'base64').toString('utf8')).id : randomUUID();
      this.#snapshots.set(id, { rv, items });
      metadata.continue = Buffer.from(JSON.stringify({ id, offset: next })).toString('base64');
      metadata.remainingItemCount = items.length - next;
    }
    if (table) return this.#json(res, 200, { ...toTable(resource, page, String(rv)), metadata });
    this.#json(res, 200, { kind: `${resource.kind}List`, apiVersion: apiVersionOf(resource), metadata, items: page });
  }

  #watch(req: IncomingMessage, res: ServerResponse, resource: ResourceType, namespace: string | undefined, query: Record<string, string>, table: boolean): void {
    const selected = this.#selectorFor(resource, namespace, query);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    const wrap = (o: KubeObject): unknown => (table ? toTable(resource, [o], o.metadata.resourceVersion ?? '', true) : o);
    const write = (event: unknown): void => {
      if (!watch.frozen) this.#writeEvent(res, event);
    };
    const send = (e: StoredEvent): void => {
      if (e.resource !== resource.name) return;
      const now = selected(e.object);
      const before = e.type === 'MODIFIED' && e.previous ? selected(e.previous) : now;
      let type: string | undefined;
      if (e.type === 'ADDED') type = now ? 'ADDED' : undefined;
      else if (e.type === 'DELETED') type = now ? 'DELETED' : undefined;
      else type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
      if (type) write({ type, object: wrap(e.object) });
    };
    const watch: OpenWatch = {
      res,
      resource: resource.name,
      frozen: false,
      close: () => {
        if (!this.#watches.delete(watch)) return;
        unsubscribe?.();
        for (const t of timers) clearTimeout(t);
        res.end();
      },
    };
    const timers: NodeJS.Timeout[] = [];
    let unsubscribe: (() => void) | undefined;
    const asked = query.resourceVersion;
    let backlog: StoredEvent[] | undefined;
    if (asked === undefined || asked === '' || asked === '0') {
      for (const obj of this.store.list(resource.name)) if (selected(obj)) write({ type: 'ADDED', object: wrap(obj) });
      backlog = [];
    } else {
      backlog = this.store.since(Number(asked));
      if (!backlog) {
        this.#writeEvent(res, {
          type: 'ERROR',
          object: status(410, 'Expired', `too old resource version: ${asked} (${this.store.oldestValidVersion})`),
        });
        res.end();
        return;
      }
    }
    for (const e of backlog) send(e);
    unsubscribe = this.store.subscribe(send);
    if (query.allowWatchBookmarks === 'true' || query.allowWatchBookmarks === '1') {
      timers.push(
        setInterval(() => {
          write({ type: 'BOOKMARK', object: { kind: resource.kind, apiVersion: apiVersionOf(resource), metadata: { resourceVersion: String(this.store.resourceVersion) } } });
        }, this.#options.bookmarkIntervalMs),
      );
    }
    // A frozen (hung) watch is not ended by its timeout either: that is the client's to notice.
    if (query.timeoutSeconds) timers.push(setTimeout(() => watch.frozen || watch.close(), Number(query.timeoutSeconds) * 1000));
    this.#watches.add(watch);
    req.on('close', () => watch.close());
    res.on('close', () => watch.close());
  }

  #writeEvent(res: ServerResponse, event: unknown): void {
    if (!res.writableEnded) res.write(JSON.stringify(event) + '\n');
  }

  #json(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  #text(res: ServerResponse, code: number, body: string): void {
    res.writeHead(code, { 'content-type': 'text/plain' });
    res.end(body);
  }

  #groupList() {
    const groups = [...new Set(RESOURCES.map((r) => r.group).filter(Boolean))].map((g) => ({
      name: g,
      versions: [{ groupVersion: `${g}/v1`, version: 'v1' }],
      preferredVersion: { groupVersion: `${g}/v1`, version: 'v1' },
    }));
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }

  #resourceList(group: ResourceType['group']) {
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/v1` : 'v1',
      resources: RESOURCES.filter((r) => r.group === group).map((r) => ({
        name: r.name,
        singularName: r.kind.toLowerCase(),
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ['create', 'get', 'list', 'watch'],
        ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
      })),
    };
  }
}
