/**
 * Merges several configuration files: maps merge key by key (deeply), anything
 * else (scalars, sequences) is replaced by the later file; an empty value (`key:`)
 * does not erase an earlier map. Positions follow the file each value came from.
 */
import type { SourcePosition } from './problems.ts';
import { defineKey, isPlainMap, pathKey } from './source.ts';
import type { ConfigPath, LocatedConfig } from './source.ts';

export interface MergedConfig {
  value: Record<string, unknown>;
  positions: Map<string, SourcePosition>;
}

function mergeValue(earlier: unknown, later: unknown): unknown {
  if (later === null && isPlainMap(earlier)) return earlier;
  if (!isPlainMap(earlier) || !isPlainMap(later)) return later;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(earlier)) defineKey(out, k, v);
  for (const [k, v] of Object.entries(later)) defineKey(out, k, k in out ? mergeValue(out[k], v) : v);
  return out;
}

/** Files must have map roots (checked by the caller). */
export function mergeConfigs(configs: readonly LocatedConfig[]): MergedConfig {
  let value: Record<string, unknown> = {};
  const positions = new Map<string, SourcePosition>();
  for (const c of configs) {
    value = mergeValue(value, c.value ?? {}) as Record<string, unknown>;
    for (const [k, p] of c.positions) positions.set(k, p);
  }
  return { value, positions };
}

/** Position of the deepest written key on `path` (a missing key points at its parent). */
export function positionOf(merged: MergedConfig, path: ConfigPath): SourcePosition | undefined {
  for (let n = path.length; n >= 0; n--) {
    const p = merged.positions.get(pathKey(path.slice(0, n)));
    if (p) return p;
  }
  return undefined;
}
