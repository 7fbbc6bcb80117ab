/**
 * Scrapes share renders. A scrape that arrives while a render runs waits for
 * that render instead of starting its own; a finished render is served again
 * while it is younger than `exposition_max_age`. So N scrapers cost one render
 * per max age at most, however many they are and however often they come.
 */

/** A rendered exposition: UTF-8 chunks, shared by every scrape that gets it (never modify them). */
export interface Exposition {
  readonly chunks: readonly Buffer[];
  /** Total length of the chunks. */
  readonly bytes: number;
}

export interface SharedExpositionOptions {
  /** How long a finished render is served to later scrapes (ms, counted from the start of the render). */
  maxAgeMs: number;
  /** The clock, ms. */
  now: () => number;
}

export class SharedExposition {
  readonly #render: () => Promise<Buffer[]>;
  readonly #options: Readonly<SharedExpositionOptions>;
  #running: Promise<Exposition> | undefined;
  #last: { exposition: Exposition; startedAt: number } | undefined;

  constructor(render: () => Promise<Buffer[]>, options: SharedExpositionOptions) {
    this.#render = render;
    this.#options = Object.freeze({ ...options });
  }

  /**
   * The exposition. The same buffers are handed to every scrape that shares
   * a render: sockets write them without a copy per client.
   */
  get(): Promise<Exposition> {
    if (this.#running) return this.#running;
    const now = this.#options.now();
    if (this.#last && now - this.#last.startedAt < this.#options.maxAgeMs) return Promise.resolve(this.#last.exposition);
    const running = this.#renderOnce(now);
    this.#running = running;
    return running;
  }

  /** Forgets the last render (the stores were cleared). */
  clear(): void {
    this.#last = undefined;
  }

  async #renderOnce(startedAt: number): Promise<Exposition> {
    try {
      const chunks = await this.#render();
      const exposition = { chunks, bytes: chunks.reduce((n, c) => n + c.length, 0) };
      this.#last = { exposition, startedAt };
      return exposition;
    } finally {
      this.#running = undefined;
    }
  }
}
