/**
 * The OTLP flow metrics and the Prometheus exporter's counters are one set of
 * names: translated by the OpenTelemetry specification's rules for
 * Prometheus (as the Collector's and Prometheus' own OTLP receivers apply
 * them), the OTLP names and units give exactly the names exporters/prometheus
 * serves. The rules are written here from the specification, not taken from
 * zonetap's code: `.` and other separators -> `_`; a unit in braces is an
 * annotation and adds nothing; `By` -> `bytes`, `s` -> `seconds`; the unit is
 * appended unless a name token already says it; `_total` ends a monotonic sum.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SumMetricData } from '@opentelemetry/sdk-metrics';
import { flowFamilies } from '../prometheus/index.ts';
import { FlowStore } from '../series/index.ts';
import { agentResource, flowResourceMetrics } from './index.ts';

const UNITS: Record<string, string> = { By: 'bytes', s: 'seconds', '1': '' };

function prometheusName(metric: SumMetricData): string {
  const tokens = metric.descriptor.name.split(/[^a-zA-Z0-9]+/).filter(Boolean);
  const unit = metric.descriptor.unit.replace(/\{[^}]*\}/g, '');
  const suffix = UNITS[unit] ?? unit;
  if (suffix && !tokens.includes(suffix)) tokens.push(suffix);
  if (metric.isMonotonic) tokens.push('total');
  return tokens.join('_');
}

test('OTLP flow metrics translate to the names the prometheus exporter serves, the cost too', () => {
  const series = [{ attributes: { 'src.zone': 'a' }, bytes: 10, packets: 1, costUsd: 0.5, startTime: 0 }];
  const otlp = flowResourceMetrics(agentResource('test'), series as never, 1000).scopeMetrics[0]!.metrics as SumMetricData[];
  assert.deepEqual(
    otlp.map((m) => [m.descriptor.name, m.descriptor.unit]),
    [
      ['zonetap.network.flow.bytes', 'By'],
      ['zonetap.network.flow.packets', '{packet}'],
      ['zonetap.network.flow.cost_usd', '{USD}'],
    ],
  );
  const store = new FlowStore({ ttlMs: 1000, maxSeries: 1, overflowAttributes: {} });
  assert.deepEqual(otlp.map(prometheusName), flowFamilies(store, undefined).map((f) => f.name));
});
