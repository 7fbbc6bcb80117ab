/** Advice: the changes that would cut the most cross-zone cost, from measured traffic (README.md here). */
export { advise, MAX_EVIDENCE } from './rules.ts';
export type { AdviceItem, AdviceReport, AdviceRule, Evidence } from './rules.ts';
export { observedFromLabels, observedFromRecords, selector } from './traffic.ts';
export type { ObservedTraffic, TrafficEnd, TrafficLabels } from './traffic.ts';
export { ADVICE_BY_LABELS, adviceQueries, observedFromPrometheus, observedFromSeries } from './prometheus-source.ts';
export type { CumulativeSeries } from './prometheus-source.ts';
export { renderAdviceHtml, renderAdviceText } from './render.ts';
export type { AdviceContext } from './render.ts';
export { MONTHLY_PROMQL_FACTOR, formatBytes, formatUsd, monthly } from './units.ts';
