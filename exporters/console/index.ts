export { consoleExporterFactory } from './factory.ts';
export { consoleConfigSchema, type ConsoleConfig } from './config.ts';
export { ConsoleExporter, type ConsoleOutput } from './exporter.ts';
export { INTERNET, addTotals, addTraffic, emptyTotals, perSecond, sampleOf, topPairs } from './traffic.ts';
export type { TrafficSample, TrafficTotals } from './traffic.ts';
export { frame, renderMatrix, renderTrafficView } from './view.ts';
export type { TrafficViewOptions } from './view.ts';
