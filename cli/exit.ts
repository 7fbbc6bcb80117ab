/** Exit codes of the zonetap command and how errors are printed; imports nothing heavy (`--help` and usage errors need them). */
import { ZonetapError } from '../pipeline/errors.ts';

/** Exit codes of the zonetap command (documented in cli/README.md). */
export const EXIT = {
  OK: 0,
  /** Start-up failed, or shutdown did not finish cleanly within the deadline. */
  FAILURE: 1,
  /** Bad command line or configuration: nothing was started. */
  USAGE: 2,
  /** Second SIGINT / SIGTERM while shutting down: 128 + signal number. */
  FORCED_SIGINT: 130,
  FORCED_SIGTERM: 143,
} as const;

/** One line per problem, for people: `zonetap: CODE: message`. */
export function describeError(err: unknown): string {
  if (err instanceof ZonetapError) return `zonetap: ${err.code}: ${err.message}\n`;
  return `zonetap: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`;
}
