/**
 * One informer: list a resource (in pages), then watch it from the list's
 * resourceVersion, as client-go's reflector does:
 * - watches ask for bookmarks and for the server to end them after
 *   `timeoutSeconds`; a watch the server ends is reopened from the last
 *   resourceVersion seen (events and bookmarks advance it);
 * - 410 Gone (an ERROR event or an HTTP status: the version was compacted)
 *   relists; objects missing from the new list are deleted;
 * - any other failure ends the informer with that error (`onError`); the
 *   caller restarts it with backoff, and it resumes from its resourceVersion.
 * Only each object's namespace and name are kept (to find deletions on a
 * relist); the objects themselves go to `upsert` and `remove`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeApiError, type KubeApiClient, type WatchEvent } from './api-client.ts';

/** What the informer keeps of an object: enough to name it on deletion. */
export interface ObjectName {
  name: string;
  namespace?: string;
}

export interface ListWatchOptions<T extends { metadata: ObjectName }> {
  path: string;
  fieldSelector?: string;
  pageSize: number;
  /** Asked of the server for each watch (it ends the watch then, after a bookmark). */
  timeoutSeconds: number;
  /** A request silent this long is cut (a hung server) and reopened. */
  idleMs: number;
  /** Pause after a watch that ended at once with no event (a server that keeps closing), doubled up to this. */
  backoffMaxMs: number;
  /** The parts of an API object the processor needs. */
  transform: (object: any) => T;
  upsert: (object: T) => void;
  remove: (object: T | { metadata: ObjectName }) => void;
  /** Called on every answer from the server: a list, an accepted watch, any watch event (bookmarks too). */
  contact: () => void;
}

const key = (m: ObjectName) => `${m.namespace ?? ''}/${m.name}`;

export class ListWatch<T extends { metadata: ObjectName }> {
  readonly #client: KubeApiClient;
  readonly #options: ListWatchOptions<T>;
  readonly #known = new Map<string, ObjectName>();
  #resourceVersion = '';
  #abort: AbortController | undefined;

  constructor(client: KubeApiClient, options: ListWatchOptions<T>) {
    this.#client = client;
    this.#options = options;
  }

  /**
   * Lists (unless there is a resourceVersion to resume from) and opens the
   * watch; resolves once the watch is open, rejects if either fails. A later
   * failure of the watch is handed to `onError` (once) and the informer stops.
   */
  start(onError: (err: unknown) => void): Promise<void> {
    this.stop();
    const abort = (this.#abort = new AbortController());
    return new Promise((resolve, reject) => {
      let opened = false;
      this.#run(abort.signal, () => {
        opened = true;
        resolve();
      }).catch((err: unknown) => {
        if (abort.signal.aborted) return resolve();
        if (opened) onError(err);
        else reject(err);
      });
    });
  }

  stop(): void {
    this.#abort?.abort();
    this.#abort = undefined;
  }

  async #run(signal: AbortSignal, opened: () => void): Promise<void> {
    const o = this.#options;
    let pause = 0;
    while (!signal.aborted) {
      if (!this.#resourceVersion) await this.#list(signal);
      const began = Date.now();
      let events = 0;
      try {
        // An accepted watch is an answer too: a server that ends quiet watches at timeoutSeconds
        // before its next bookmark (rarer than that, as with a long unhealthy_after) is still alive.
        const accepted = () => {
          o.contact();
          opened();
        };
        await this.#client.watch(o.path, { resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds: o.timeoutSeconds, fieldSelector: o.fieldSelector }, accepted, (event) => {
          events++;
          this.#apply(event);
        }, signal, o.idleMs);
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 410) this.#resourceVersion = '';
        else if ((err as Error).name !== 'TimeoutError') throw err;
        continue;
      }
      // Ended by the server. At once and with nothing said: pause, so that a server that keeps closing is not hammered.
      pause = events === 0 && Date.now() - began < 1000 ? Math.min(Math.max(1000, pause * 2), o.backoffMaxMs) : 0;
      if (pause > 0) await sleep(pause, undefined, { signal, ref: false }).catch(() => undefined);
    }
  }

  async #list(signal: AbortSignal): Promise<void> {
    const o = this.#options;
    const items: T[] = [];
    let next: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.#client.get(o.path, { limit: o.pageSize, continue: next, fieldSelector: o.fieldSelector }, signal, o.idleMs);
      resourceVersion ??= page.metadata?.resourceVersion;
      for (const item of page.items ?? []) items.push(o.transform(item));
      next = page.metadata?.continue || undefined;
    } while (next);
    o.contact();
    // Objects that went away while nothing was watching, then what is there now.
    const listed = new Set(items.map((i) => key(i.metadata)));
    for (const [k, name] of this.#known) {
      if (listed.has(k)) continue;
      this.#known.delete(k);
      o.remove({ metadata: name });
    }
    for (const item of items) {
      this.#known.set(key(item.metadata), { name: item.metadata.name, namespace: item.metadata.namespace });
      o.upsert(item);
    }
    this.#resourceVersion = resourceVersion ?? '';
  }

  #apply(event: WatchEvent): void {
    const o = this.#options;
    if (event.type === 'ERROR') {
      const status = event.object ?? {};
      // 410: the server ends the watch next; the loop relists.
      if (status.code === 410) return void (this.#resourceVersion = '');
      throw new KubeApiError(Number(status.code) || 500, status.message, status.reason);
    }
    o.contact();
    if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      const item = o.transform(event.object);
      this.#known.set(key(item.metadata), { name: item.metadata.name, namespace: item.metadata.namespace });
      o.upsert(item);
    } else if (event.type === 'DELETED') {
      const item = o.transform(event.object);
      this.#known.delete(key(item.metadata));
      o.remove(item);
    }
    this.#resourceVersion = event.object?.metadata?.resourceVersion || this.#resourceVersion;
  }
}
