/**
 * The clients that scrape /metrics and what each has seen, so that
 * Prometheus' view of the counters is exact:
 *
 * - A new label set starts at 0 for every scraper. Prometheus takes a
 *   series' first sample as its starting point, so a series first seen with
 *   its count loses that count in increase() and rate(); with two scrapers (an
 *   HA pair of Prometheus servers, or Prometheus and a dashboard), whichever
 *   came first would otherwise take the only 0. A series is served at 0 until
 *   every regular scraper has scraped since it appeared, then with its count,
 *   to everyone, for good: once shown with its count it never goes back to 0
 *   (that would look like a counter reset and count everything twice).
 * - A clean shutdown waits until every regular scraper has seen the last
 *   counts: the counters die with the process.
 *
 * Regular: a client (address and User-Agent) that scraped at least twice and
 * still comes at its pace. A one-off request (a curl) holds nothing back and
 * is not waited for.
 */

/** At most this many clients are remembered; the one seen longest ago goes first. */
const MAX_SCRAPERS = 16;
/** A scraper that missed this many of its intervals, plus the slack (a busy node), has stopped coming. */
const GONE_INTERVALS = 2;
const GONE_SLACK_MS = 3000;
/** Part of the time left kept for closing the server after the wait (at most 1 s). */
const CLOSE_SHARE = 0.1;

interface Scraper {
  lastAt: number;
  /** Between its last two scrapes; undefined after one scrape (not regular yet). */
  intervalMs: number | undefined;
  /** Changes its last render included, and the series it showed at 0. */
  shownChanges: number;
  held: number;
}

export type FinalScrapeOutcome = 'no_scraper' | 'complete' | 'scraper_gone' | 'deadline';

export class Scrapers {
  readonly #byClient = new Map<string, Scraper>();
  readonly #now: () => number;
  /** Batches with records consumed. */
  #changes = 0;
  /** The scraper whose render is under way (between begin() and rendered()). */
  #current: Scraper | undefined;
  #nextRender = Promise.withResolvers<void>();

  /** `now` is the exporter's clock (ms), the one series' start times are in. */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** A batch with records was added to the counters. */
  changed(): void {
    this.#changes++;
  }

  /**
   * A render for `client` starts at `now`: returns the release time. Series
   * that appeared before it have been seen by every regular scraper, this one
   * included, and are shown with their counts.
   */
  begin(client: string, now: number): number {
    const self = this.#byClient.get(client);
    let release = self ? self.lastAt : -Infinity;
    for (const [key, s] of this.#byClient) {
      if (key === client || s.intervalMs === undefined) continue;
      if (this.#gone(s, now)) this.#byClient.delete(key);
      else release = Math.min(release, s.lastAt);
    }
    const scraper: Scraper = { lastAt: now, intervalMs: self ? now - self.lastAt : undefined, shownChanges: this.#changes, held: 0 };
    this.#byClient.delete(client); // re-inserted last: the map stays in order of last scrape
    this.#byClient.set(client, scraper);
    if (this.#byClient.size > MAX_SCRAPERS) this.#byClient.delete(this.#byClient.keys().next().value!);
    this.#current = scraper;
    return release;
  }

  /** The render begun last ended, having shown `held` series at 0. */
  rendered(held: number): void {
    if (this.#current) this.#current.held = held;
    this.#current = undefined;
    this.#nextRender.resolve();
    this.#nextRender = Promise.withResolvers<void>();
  }

  #gone(s: Scraper, now: number): boolean {
    return s.intervalMs !== undefined && now - s.lastAt > GONE_INTERVALS * s.intervalMs + GONE_SLACK_MS;
  }

  #anyComing(now: number): boolean {
    return [...this.#byClient.values()].some((s) => s.intervalMs !== undefined && !this.#gone(s, now));
  }

  /** Regular scrapers still coming that have not seen every count yet. */
  #behind(now: number): Scraper[] {
    return [...this.#byClient.values()].filter((s) => s.intervalMs !== undefined && !this.#gone(s, now) && (s.shownChanges < this.#changes || s.held > 0));
  }

  /**
   * Waits until every regular scraper has seen every count, or those that
   * have not stop coming, or `deadlineMs` (real time, less a share kept for
   * closing). Returns at once when no regular scraper is coming.
   */
  async awaitFinalScrapes(deadlineMs: number): Promise<FinalScrapeOutcome> {
    if (!this.#anyComing(this.#now())) return 'no_scraper';
    const stopAt = deadlineMs - Math.min(1000, Math.max(0, deadlineMs - Date.now()) * CLOSE_SHARE);
    for (;;) {
      const now = this.#now();
      const behind = this.#behind(now);
      if (behind.length === 0) return this.#anyComing(now) ? 'complete' : 'scraper_gone';
      if (Date.now() >= stopAt) return 'deadline';
      const nextGone = Math.min(...behind.map((s) => s.lastAt + GONE_INTERVALS * s.intervalMs! + GONE_SLACK_MS)) - now + 1;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, Math.min(stopAt - Date.now(), nextGone)))));
      await Promise.race([this.#nextRender.promise, timeout]);
      clearTimeout(timer);
    }
  }
}
