/**
 * Feature gates, as in the OpenTelemetry Collector: named switches for
 * behaviour in transition, set with `--feature-gates id,-other,+third`
 * (`-` disables, `+` or nothing enables). An `alpha` gate is off unless
 * enabled, a `beta` gate on unless disabled, a `stable` gate always on (it
 * stays listed for a while so that command lines naming it keep working).
 * Imports nothing heavy: the command line is checked before anything loads.
 */
import { ZonetapError } from './errors.ts';

export type GateStage = 'alpha' | 'beta' | 'stable';

export interface FeatureGate {
  readonly id: string;
  readonly stage: GateStage;
  /** One line for `zonetap run --help`. */
  readonly description: string;
}

/** Every gate zonetap knows. */
export const FEATURE_GATES: readonly FeatureGate[] = [
  {
    id: 'telemetry.processMetrics',
    stage: 'beta',
    description: 'serve process_* and nodejs_* metrics (CPU, memory, file descriptors, event loop, GC) on the telemetry endpoint',
  },
];

/** The gates that are on, by ID. */
export type EnabledGates = ReadonlySet<string>;

/** The gates on when no --feature-gates is given. */
export function defaultGates(): EnabledGates {
  return new Set(FEATURE_GATES.filter((g) => g.stage !== 'alpha').map((g) => g.id));
}

/**
 * Applies `--feature-gates` values in order to the defaults.
 * @throws ZonetapError ZT_USAGE naming an unknown gate, or a stable gate being disabled.
 */
export function parseFeatureGates(values: readonly string[]): EnabledGates {
  const enabled = new Set(defaultGates());
  for (const item of values.flatMap((v) => v.split(',')).map((s) => s.trim())) {
    if (item === '') continue;
    const disable = item.startsWith('-');
    const id = item.replace(/^[-+]/, '');
    const gate = FEATURE_GATES.find((g) => g.id === id);
    if (!gate) {
      throw new ZonetapError('ZT_USAGE', `unknown feature gate "${id}" in --feature-gates; known gates: ${FEATURE_GATES.map((g) => g.id).join(', ')}`);
    }
    if (disable && gate.stage === 'stable') throw new ZonetapError('ZT_USAGE', `feature gate "${id}" is stable and cannot be disabled`);
    if (disable) enabled.delete(id);
    else enabled.add(id);
  }
  return enabled;
}
