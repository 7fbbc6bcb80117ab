/**
 * The advice as people read it: text for `zonetap advise`, a small HTML page
 * for `/advice` (no script: the server renders it, so any browser and
 * `chromium --dump-dom` see the same document). JSON is the report itself.
 */
import { formatBytes, formatUsd } from './units.ts';
import type { AdviceReport } from './rules.ts';

/** Where the traffic was measured, for the heading. */
export interface AdviceContext {
  /** e.g. `flow log config/quickstart-flows.jsonl, 20 s` or `Prometheus http://..., last 1h`. */
  measured: string;
}

export function renderAdviceText(report: AdviceReport, ctx: AdviceContext): string {
  const out = [`Advice from ${ctx.measured}: cross-zone and cross-region traffic costs ${formatUsd(report.monthlyUsdCrossing)}/month.`];
  if (report.items.length === 0) {
    out.push('No change to advise: no cross-zone or cross-region traffic between workloads was measured.');
    return `${out.join('\n')}\n`;
  }
  report.items.forEach((item, i) => {
    out.push('', `${i + 1}. ${formatUsd(item.monthlyUsd)}/month at stake (${formatBytes(item.bytesPerSecond)}/s): ${item.server} [${item.rule}]`);
    out.push(`   Finding: ${item.finding}`, `   Do: ${item.remedy}`, `   Evidence (${item.evidence.length} of ${item.evidenceCount}):`);
    for (const e of item.evidence) out.push(`     - ${e.source}: ${formatBytes(e.bytesPerSecond)}/s, ${formatUsd(e.monthlyUsd)}/month`);
  });
  return `${out.join('\n')}\n`;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A whole HTML document; each item is an `<li class="advice-item">` with its dollars in `.monthly-usd`. */
export function renderAdviceHtml(report: AdviceReport, ctx: AdviceContext): string {
  const items = report.items
    .map(
      (item) => `<li class="advice-item" data-rule="${escape(item.rule)}">
  <h2><span class="monthly-usd">${escape(formatUsd(item.monthlyUsd))}/month</span> <span class="server">${escape(item.server)}</span> <code>${escape(item.rule)}</code></h2>
  <p class="finding">${escape(item.finding)}</p>
  <p class="remedy"><strong>Do:</strong> ${escape(item.remedy)}</p>
  <details open><summary>Evidence: ${item.evidence.length} of ${item.evidenceCount}, ${escape(formatBytes(item.bytesPerSecond))}/s</summary><ul class="evidence">
${item.evidence.map((e) => `    <li><code>${escape(e.source)}</code> ${escape(formatBytes(e.bytesPerSecond))}/s, ${escape(formatUsd(e.monthlyUsd))}/month</li>`).join('\n')}
  </ul></details>
</li>`,
    )
    .join('\n');
  const body = report.items.length === 0 ? '<p class="empty">No change to advise: no cross-zone or cross-region traffic between workloads was measured.</p>' : `<ol class="advice">\n${items}\n</ol>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>zonetap advice</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}h1{font-size:1.4rem}
.advice-item{margin:1.2rem 0;padding:.6rem 1rem;border-left:4px solid #c60;background:#faf7f2}.advice-item h2{font-size:1.1rem;margin:.2rem 0}
.monthly-usd{color:#a40;font-weight:700}code{font-size:.85em;background:#eee;padding:0 .25em}.evidence{font-size:.9em}</style></head>
<body><h1>zonetap advice</h1>
<p class="summary">From ${escape(ctx.measured)}: cross-zone and cross-region traffic costs <strong class="total-usd">${escape(formatUsd(report.monthlyUsdCrossing))}/month</strong>. The changes below would cut the most, costliest first.</p>
${body}
</body></html>
`;
}
