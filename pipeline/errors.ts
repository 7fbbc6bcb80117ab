/**
 * The catalogue of zonetap errors. Each has a stable code that users can look
 * up in the README ("Errors"); messages say what was wrong, where, and what to do.
 */
export const ERROR_CODES = {
  ZT_CONFIG_INVALID: 'The configuration failed validation; every problem is listed with its path and file:line:column.',
  ZT_CONFIG_READ: 'A configuration file could not be read or parsed as YAML.',
  ZT_USAGE: 'The command line was wrong: an unknown flag or command, a missing argument, a malformed --set, an unknown feature gate.',
  ZT_COMPONENT_START: 'A component failed to start; the message names it.',
  ZT_BPF: 'The kernel refused an eBPF operation (load, attach, map access); the message says which and what to do.',
  ZT_KUBERNETES: 'The Kubernetes API could not be reached or refused zonetap.',
  ZT_INVENTORY_INVALID: 'A static inventory file failed validation.',
  ZT_EXPORT: 'An exporter could not deliver data; it will retry.',
  ZT_ADVICE_INPUT: 'zonetap advise could not read its input: the flow log, or the Prometheus API.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ZonetapError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ZonetapError';
    this.code = code;
  }
}
