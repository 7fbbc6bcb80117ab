/**
 * `/advice` on the prometheus exporter's server: the changes that would cut
 * the most cross-zone cost (advice/), computed from the series this exporter
 * holds, each at its rate over its own lifetime here. JSON by default; the
 * HTML page for browsers (Accept: text/html) or `?format=html`. `?top=N`
 * lists N items (1 to 100, default 5).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { advise, observedFromSeries, renderAdviceHtml, type CumulativeSeries } from '../../advice/index.ts';

export const ADVICE_PATH = '/advice';

export function serveAdvice(req: IncomingMessage, res: ServerResponse, series: Iterable<CumulativeSeries>, now: number): void {
  const url = new URL(req.url ?? '/', 'http://zonetap');
  const format = url.searchParams.get('format') ?? (/\btext\/html\b/.test(req.headers.accept ?? '') ? 'html' : 'json');
  const top = Number(url.searchParams.get('top') ?? 5);
  if ((format !== 'json' && format !== 'html') || !Number.isInteger(top) || top < 1 || top > 100) {
    res.statusCode = 400;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end('expected ?format=json or ?format=html and ?top= a whole number from 1 to 100\n');
    return;
  }
  const report = advise(observedFromSeries(series, now), top);
  const measured = 'this zonetap\'s series, each at its rate since it was created here';
  const body = format === 'html' ? renderAdviceHtml(report, { measured }) : `${JSON.stringify({ measured, ...report })}\n`;
  res.statusCode = 200;
  res.setHeader('content-type', format === 'html' ? 'text/html; charset=utf-8' : 'application/json');
  res.setHeader('cache-control', 'no-store');
  res.end(req.method === 'HEAD' ? undefined : body);
}
