/**
 * Writes deploy/kubernetes/base/prometheusrule.yaml from deploy/alerts/zonetap-rules.yaml,
 * the one source of truth for zonetap's alert rules. deploy.test.ts fails when they differ.
 * Usage: node deploy/sync-rules.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

export const RULES_FILE = fileURLToPath(new URL('alerts/zonetap-rules.yaml', import.meta.url));
export const PROMETHEUS_RULE_FILE = fileURLToPath(new URL('kubernetes/base/prometheusrule.yaml', import.meta.url));

/** The PrometheusRule object (monitoring.coreos.com/v1) that carries the rule file's groups. */
export function prometheusRuleText(rulesText: string): string {
  const groups: unknown = (parse(rulesText) as { groups: unknown }).groups;
  const object = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'zonetap',
      labels: { 'app.kubernetes.io/name': 'zonetap', 'app.kubernetes.io/part-of': 'zonetap' },
    },
    spec: { groups },
  };
  return (
    '# GENERATED from deploy/alerts/zonetap-rules.yaml by `node deploy/sync-rules.ts`: edit that file, not this one.\n' +
    stringify(object, { lineWidth: 0 })
  );
}

if (import.meta.main) {
  writeFileSync(PROMETHEUS_RULE_FILE, prometheusRuleText(readFileSync(RULES_FILE, 'utf8')));
  console.log(`wrote ${PROMETHEUS_RULE_FILE}`);
}
