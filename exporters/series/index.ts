/** Cumulative flow series with expiry and a cardinality cap, shared by the exporters that publish cumulative sums. */
export { FlowStore, seriesKey, type AddResult, type FlowSeries, type FlowStoreOptions, type SeriesAttributes } from './flowstore.ts';
