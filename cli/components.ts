/** The `zonetap components` table: kind, type, stability and description of every built-in factory. */
import type { ComponentKind, Factory } from '../pipeline/component.ts';

const KIND_ORDER: readonly ComponentKind[] = ['receiver', 'processor', 'exporter'];

export function componentTable(factories: readonly Factory[]): string {
  const rows = [...factories]
    .sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.type.localeCompare(b.type))
    .map((f) => [f.kind, f.type, f.stability, f.description]);
  const table = [['KIND', 'TYPE', 'STABILITY', 'DESCRIPTION'], ...rows];
  const widths = [0, 1, 2].map((i) => Math.max(...table.map((r) => r[i]!.length)));
  return table.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join('  ').trimEnd()).join('\n') + '\n';
}
