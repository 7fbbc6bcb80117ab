/** Every component type built into zonetap. Add a factory here to make it available to configs. */
import type { Factory } from '../pipeline/component.ts';

export const FACTORIES: readonly Factory[] = [
];
