/**
 * The clients that scrape /metrics and which render each was served, so that
 * Prometheus' view of the counters is exact:
 *
 * - A new label set starts at 0 for every scraper. Prometheus takes a
 *   series' first sample as its starting point, so a series first seen with
 *   its count loses that count in increase() and rate() (and a restarted
 *   zonetap whose new counters already passed the old ones shows no reset at
 *   all); with two scrapers (an HA pair of Prometheus servers, or Prometheus
 *   and a dashboard) whichever came first would otherwise take the only 0. A
 *   series is rendered at 0 until every regular scraper has been served a
 *   render that held it, then with its count, to everyone, for good: once
 *   shown with its count it never goes back to 0 (that would look like a
 *   counter reset and count everything twice).
 * - A clean shutdown waits until every regular scraper has been served the
 *   last counts: the counters die with the process.
 *
 * Renders are shared by every scrape that comes while one runs or within
 * exposition_max_age (shared-exposition.ts), so what a scraper saw is the
 * generation of the render it was served. Regular: a client (address and
 * User-Agent) that scraped at least twice and still comes at its pace; a
 * one-off request (a curl) holds nothing back and is not waited for.
 */
import type { FlowSeries } from '../series/index.ts';

/** At most this many clients are remembered; the one seen longest ago goes first. */
const MAX_SCRAPERS = 16;
/** A scraper that missed this many of its intervals, plus the slack (a busy node), has stopped coming. */
const GONE_INTERVALS = 2;
const GONE_SLACK_MS = 3000;
/** Part of the time left kept for closing the server after the wait (at most 1 s). */
const CLOSE_SHARE = 0.1;
/** Renders remembered (what each held and which changes it had). */
const RENDERS_KEPT = 32;

interface Scraper {
  lastAt: number;
  /** Between its last two scrapes; undefined after one scrape (not regular yet). */
  intervalMs: number | undefined;
  /** The newest render it was served. */
  generation: number;
}

interface RenderFacts {
  /** Batches consumed before the render began (all in it). */
  changes: number;
  /** Series it showed at 0. */
  held: number;
}

/** One render under way: which series it shows at 0. */
export interface RenderGate {
  readonly generation: number;
  /** True when `series` is to be rendered at 0 in this render. */
  held(series: Readonly<FlowSeries>): boolean;
  /** The render is done (its facts are remembered for served()). */
  end(): void;
}

export type FinalScrapeOutcome = 'no_scraper' | 'complete' | 'scraper_gone' | 'deadline';

export class Scrapers {
  readonly #byClient = new Map<string, Scraper>();
  readonly #renders = new Map<number, RenderFacts>();
  readonly #heldSince = new WeakMap<Readonly<FlowSeries>, number>();
  readonly #released = new WeakSet<Readonly<FlowSeries>>();
  readonly #now: () => number;
  #generation = 0;
  #changes = 0;
  #nextServe = Promise.withResolvers<void>();

  /** `now` is the exporter's clock (ms). */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** A batch with records was added to the counters. */
  changed(): void {
    this.#changes++;
  }

  /**
   * A render begins. A series first held at 0 by render h is released (shown
   * with its count) once every regular scraper still coming has been served
   * a render from h on; with no regular scraper, once one render held it.
   */
  beginRender(): RenderGate {
    const generation = ++this.#generation;
    const now = this.#now();
    let release = generation - 1;
    for (const [client, s] of this.#byClient) {
      if (this.#gone(s, now)) this.#byClient.delete(client);
      else if (s.intervalMs !== undefined) release = Math.min(release, s.generation);
    }
    const facts: RenderFacts = { changes: this.#changes, held: 0 };
    return {
      generation,
      held: (series) => {
        if (this.#released.has(series)) return false;
        const since = this.#heldSince.get(series);
        if (since === undefined) this.#heldSince.set(series, generation);
        else if (since <= release) {
          this.#released.add(series);
          return false;
        }
        facts.held++;
        return true;
      },
      end: () => {
        this.#renders.set(generation, facts);
        if (this.#renders.size > RENDERS_KEPT) this.#renders.delete(this.#renders.keys().next().value!);
      },
    };
  }

  /** `client` was sent the render of `generation` (whole). */
  served(client: string, generation: number): void {
    const now = this.#now();
    const self = this.#byClient.get(client);
    this.#byClient.delete(client); // re-inserted last: the map stays in order of last scrape
    this.#byClient.set(client, { lastAt: now, intervalMs: self ? now - self.lastAt : undefined, generation: Math.max(generation, self?.generation ?? 0) });
    if (this.#byClient.size > MAX_SCRAPERS) this.#byClient.delete(this.#byClient.keys().next().value!);
    this.#nextServe.resolve();
    this.#nextServe = Promise.withResolvers<void>();
  }

  #gone(s: Scraper, now: number): boolean {
    return s.intervalMs !== undefined && now - s.lastAt > GONE_INTERVALS * s.intervalMs + GONE_SLACK_MS;
  }

  #regulars(now: number): Scraper[] {
    return [...this.#byClient.values()].filter((s) => s.intervalMs !== undefined && !this.#gone(s, now));
  }

  /** True when `s` was served a render that had every change and showed nothing at 0. */
  #caughtUp(s: Scraper): boolean {
    const facts = this.#renders.get(s.generation);
    return facts !== undefined && facts.changes === this.#changes && facts.held === 0;
  }

  /**
   * Waits until every regular scraper has been served every count, or those
   * that have not stop coming, or `deadlineMs` (real time, less a share kept
   * for closing). Returns at once when no regular scraper is coming.
   */
  async awaitFinalScrapes(deadlineMs: number): Promise<FinalScrapeOutcome> {
    if (this.#regulars(this.#now()).length === 0) return 'no_scraper';
    const stopAt = deadlineMs - Math.min(1000, Math.max(0, deadlineMs - Date.now()) * CLOSE_SHARE);
    for (;;) {
      const now = this.#now();
      const regulars = this.#regulars(now);
      const behind = regulars.filter((s) => !this.#caughtUp(s));
      if (behind.length === 0) return regulars.length > 0 ? 'complete' : 'scraper_gone';
      if (Date.now() >= stopAt) return 'deadline';
      const nextGone = Math.min(...behind.map((s) => s.lastAt + GONE_INTERVALS * s.intervalMs! + GONE_SLACK_MS)) - now + 1;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, Math.min(stopAt - Date.now(), nextGone)))));
      await Promise.race([this.#nextServe.promise, timeout]);
      clearTimeout(timer);
    }
  }
}
