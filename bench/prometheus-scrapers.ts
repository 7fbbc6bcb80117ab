/**
 * Scrapers for bench/prometheus.bench.ts, in their own process so that
 * reading the answers does not load the event loop being measured.
 * `node bench/prometheus-scrapers.ts HOST:PORT SCRAPERS ROUNDS`: SCRAPERS
 * clients at once, each scraping /metrics ROUNDS times back to back; prints
 * one JSON line: every successful scrape's latency (request to last byte,
 * ms), bytes read, failed scrapes and their errors.
 */
import { get } from 'node:http';
import { performance } from 'node:perf_hooks';

const [address = '', scrapers = '50', rounds = '1'] = process.argv.slice(2);
const [host, port] = address.split(':') as [string, string];

function scrape(): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = get({ host, port: Number(port), path: '/metrics', agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => (res.statusCode === 200 ? resolve({ ms: performance.now() - started, bytes }) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const latencies: number[] = [];
let bytes = 0;
let failures = 0;
const errors = new Set<string>();
await Promise.all(
  Array.from({ length: Number(scrapers) }, async () => {
    for (let r = 0; r < Number(rounds); r++) {
      try {
        const s = await scrape();
        latencies.push(s.ms);
        bytes += s.bytes;
      } catch (err) {
        failures++;
        errors.add((err as Error).message);
      }
    }
  }),
);
console.log(JSON.stringify({ latencies, bytes, failures, errors: [...errors] }));
