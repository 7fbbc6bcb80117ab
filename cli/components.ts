/** `zonetap components`: kind, type, stability and description of every built-in factory, as a table or JSON. */
import type { ComponentKind, Factory } from '../pipeline/component.ts';

const KIND_ORDER: readonly ComponentKind[] = ['receiver', 'processor', 'exporter'];

const byType = (a: Factory, b: Factory) => a.type.localeCompare(b.type);

/** `{version, receivers, processors, exporters}`, each a list of `{type, stability, description}` sorted by type. */
export function componentJson(factories: readonly Factory[], version: string): string {
  const of = (kind: ComponentKind) =>
    factories
      .filter((f) => f.kind === kind)
      .sort(byType)
      .map((f) => ({ type: f.type, stability: f.stability, description: f.description }));
  return `${JSON.stringify({ version, receivers: of('receiver'), processors: of('processor'), exporters: of('exporter') }, null, 2)}\n`;
}

export function componentTable(factories: readonly Factory[]): string {
  const rows = [...factories]
    .sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || byType(a, b))
    .map((f) => [f.kind, f.type, f.stability, f.description]);
  const table = [['KIND', 'TYPE', 'STABILITY', 'DESCRIPTION'], ...rows];
  const widths = [0, 1, 2].map((i) => Math.max(...table.map((r) => r[i]!.length)));
  return table.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('  ').trimEnd()).join('\n') + '\n';
}
