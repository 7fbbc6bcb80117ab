/**
 * Field types shared by component config schemas (zod), with messages that say
 * what was wrong and what is expected. Paths in configs resolve against the
 * working directory, as in the OpenTelemetry Collector.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseCidr } from '../net/index.ts';
import { TRAFFIC_CLASSES, type TrafficClass } from './flow.ts';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
/** The longest delay Node's timers accept (2^31-1 ms, about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Parses `500ms`, `10s`, `2m`, `1h` into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** A duration like `10s`, as milliseconds. */
export const duration = () =>
  z.string({ error: 'expected a duration like 10s, 500ms, 2m or 1h' }).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `invalid duration "${text}": expected a positive number with a unit (ms, s, m, h), like 10s` });
      return z.NEVER;
    }
    if (ms > MAX_DURATION_MS) {
      // Node's timers take at most 2^31-1 ms; a longer one would fire after 1 ms and spin.
      ctx.addIssue({ code: 'custom', message: `duration "${text}" is too long: at most 596h (24 days)` });
      return z.NEVER;
    }
    return ms;
  });

/**
 * `host:port` or `[address]:port` with port 0-65535 (0: any free port), normalized to `host:port`
 * (`[v6]:port` for IPv6). Brackets may hold an IPv4 address too, as Go's net.SplitHostPort (the
 * Collector's) allows, so that `[${env:POD_IP}]:8888` binds to the pod IP of either family.
 */
export const endpoint = () =>
  z.string({ error: 'expected an endpoint like 127.0.0.1:9464' }).transform((text, ctx) => {
    const parsed = parseEndpoint(text);
    if (!parsed) {
      ctx.addIssue({ code: 'custom', message: `invalid endpoint "${text}": expected host:port, like 127.0.0.1:9464 or [::1]:4317` });
      return z.NEVER;
    }
    return isIP(parsed.host) === 6 ? `[${parsed.host}]:${parsed.port}` : `${parsed.host}:${parsed.port}`;
  });

export function parseEndpoint(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? m[2]!;
  if (m[1] && isIP(m[1]) === 0) return undefined;
  return { host, port };
}

/** A CIDR block like 10.0.0.0/8 or fd00::/8. */
export const cidr = () =>
  z.string({ error: 'expected a CIDR block like 10.0.0.0/8' }).transform((text, ctx) => {
    const parsed = parseCidr(text);
    if (!parsed) {
      ctx.addIssue({ code: 'custom', message: `invalid CIDR "${text}": expected address/prefix, like 10.0.0.0/8 or fd00::/8` });
      return z.NEVER;
    }
    return parsed;
  });

const errorCode = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** Why this process cannot `mode` (R_OK, W_OK) the existing `path`, or undefined when it can. */
function accessProblem(path: string, mode: number, what: string): string | undefined {
  try {
    accessSync(path, mode);
    return undefined;
  } catch (err) {
    const code = errorCode(err);
    const verb = mode === constants.R_OK ? 'readable' : 'writable';
    if (code === 'EACCES' || code === 'EPERM') return `${what} is not ${verb} by this process (uid ${process.getuid?.()})`;
    if (code === 'EROFS') return `${what} is on a read-only file system`;
    return `${what} cannot be ${mode === constants.R_OK ? 'read' : 'written'}: ${code}`;
  }
}

/** A path to a file that must exist and be readable when the config is validated. */
export const existingFile = () =>
  z.string({ error: 'expected a file path' }).superRefine((path, ctx) => {
    const problem = readableFileProblem(path);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

function readableFileProblem(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return `"${path}" is a directory; expected a file`;
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return `file "${path}" does not exist`;
    if (code === 'EACCES') return `file "${path}" cannot be reached: permission denied on a directory of its path`;
    return `file "${path}" cannot be read: ${code}`;
  }
  return accessProblem(path, constants.R_OK, `file "${path}"`);
}

/**
 * Why a file cannot be appended to (created if missing), or undefined when it
 * can: its directory must exist, and the file, or the directory when the file
 * does not exist yet, must be writable by this process. `noun` names the file
 * in messages (`flow log`).
 */
export function appendableFileProblem(path: string, noun: string): string | undefined {
  const dir = dirname(resolve(path));
  let dirIsDirectory = false;
  try {
    dirIsDirectory = statSync(dir).isDirectory();
  } catch {
    // missing, or not reachable: the same advice
  }
  if (!dirIsDirectory) return `directory "${dir}" of ${noun} "${path}" does not exist`;
  let exists = true;
  try {
    if (statSync(path).isDirectory()) return `${noun} "${path}" is a directory; expected a file path`;
  } catch {
    exists = false;
  }
  return exists ? accessProblem(path, constants.W_OK, `${noun} "${path}"`) : accessProblem(dir, constants.W_OK | constants.X_OK, `directory "${dir}" of ${noun} "${path}"`);
}

/** A non-empty list of traffic classes (`keep:` of crosszone, `classes:` of flowlog); `what` says what leaving it out means. */
export const trafficClassList = (whenOmitted: string) =>
  z
    .array(
      z.enum(TRAFFIC_CLASSES as readonly TrafficClass[] as [TrafficClass, ...TrafficClass[]], {
        error: (issue) => `unknown traffic class ${JSON.stringify(issue.input)}: expected one of ${TRAFFIC_CLASSES.join(', ')}`,
      }),
      { error: `expected a list of traffic classes (${TRAFFIC_CLASSES.join(', ')})` },
    )
    .min(1, `list at least one traffic class, or leave the key out ${whenOmitted}`);
