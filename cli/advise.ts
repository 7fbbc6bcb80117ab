/**
 * `zonetap advise`: the changes that would cut the most cross-zone cost,
 * from a flow log or from a Prometheus that scrapes zonetap (advice/).
 *   zonetap advise --flow-log FILE [--top 5] [--format text|json|html]
 *   zonetap advise --prometheus URL [--window 1h] [--top 5] [--format text|json|html]
 */
import { parseDuration } from '../pipeline/schema.ts';
import { ZonetapError } from '../pipeline/errors.ts';
import { advise, observedFromPrometheus, renderAdviceHtml, renderAdviceText, type AdviceReport, type ObservedTraffic } from '../advice/index.ts';
import { observedFromFlowLog } from '../exporters/flowlog/index.ts';

export interface AdviseArguments {
  'flow-log'?: string;
  prometheus?: string;
  window?: string;
  top?: string;
  format?: string;
}

const FORMATS = ['text', 'json', 'html'] as const;

/** The advice as text, JSON or HTML; throws ZT_USAGE for a bad command line, ZT_ADVICE_INPUT when the input cannot be read. */
export async function adviseCommand(values: AdviseArguments, usageError: (message: string) => never): Promise<string> {
  const flowLog = values['flow-log'];
  const prometheus = values.prometheus;
  if ((flowLog === undefined) === (prometheus === undefined)) usageError('zonetap advise needs --flow-log FILE or --prometheus URL (one of them)');
  const format = values.format ?? 'text';
  if (!(FORMATS as readonly string[]).includes(format)) usageError(`invalid --format "${format}": expected text, json or html`);
  const top = values.top === undefined ? 5 : Number(values.top);
  if (!Number.isInteger(top) || top < 1 || top > 100) usageError(`invalid --top "${values.top}": expected a whole number from 1 to 100`);
  if (flowLog !== undefined && values.window !== undefined) usageError('--window is for --prometheus: a flow log is read whole');
  const window = values.window ?? '1h';
  if (prometheus !== undefined) {
    if (!parseDuration(window)) usageError(`invalid --window "${window}": expected a duration like 1h or 30m`);
    if (!/^https?:\/\//.test(prometheus)) usageError(`invalid --prometheus "${prometheus}": expected a URL like http://prometheus:9090`);
  }

  let observed: ObservedTraffic[];
  let measured: string;
  let note = '';
  try {
    if (flowLog !== undefined) {
      const log = await observedFromFlowLog(flowLog);
      observed = log.observed;
      measured = `flow log ${flowLog}, ${Math.round(log.seconds)} s of flows`;
      if (log.damaged.length > 0) note += `note: ${log.damaged.length} damaged lines skipped (first: line ${log.damaged[0]!.line}: ${log.damaged[0]!.problem})\n`;
      if (log.priced < log.records) note += `note: ${log.records - log.priced} of ${log.records} records carry no cost (no cost processor before the flowlog exporter): they count $0\n`;
    } else {
      observed = await observedFromPrometheus(prometheus!, window);
      measured = `Prometheus ${prometheus}, rates over the last ${window}`;
    }
  } catch (err) {
    throw new ZonetapError('ZT_ADVICE_INPUT', (err as Error).message, { cause: err });
  }
  const report: AdviceReport = advise(observed, top);
  if (note) process.stderr.write(note);
  if (format === 'json') return `${JSON.stringify({ measured, ...report }, null, 2)}\n`;
  return format === 'html' ? renderAdviceHtml(report, { measured }) : renderAdviceText(report, { measured });
}
