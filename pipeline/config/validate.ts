/**
 * Validates a merged configuration: the top-level structure, component IDs and
 * types, each component's settings (its factory's zod schema), the service
 * section and the pipelines' references. Returns every problem, never throws.
 */
import { z } from 'zod';
import type { ComponentKind } from '../component.ts';
import type { FactoryRegistry } from '../registry.ts';
import { parseEndpoint } from '../schema.ts';
import { issuesToProblems } from './issues.ts';
import { positionOf } from './merge.ts';
import type { MergedConfig } from './merge.ts';
import { formatProblem, suggestion } from './problems.ts';
import type { ConfigProblem } from './problems.ts';
import { defineKey, isPlainMap } from './source.ts';
import { DEFAULT_TELEMETRY_ENDPOINT, LOG_ENCODINGS, LOG_LEVELS } from './types.ts';
import type { ComponentConfig, PipelineConfig, ServiceConfig } from './types.ts';

export const SECTIONS = { receivers: 'receiver', processors: 'processor', exporters: 'exporter' } as const satisfies Record<string, ComponentKind>;
type Section = keyof typeof SECTIONS;
const SECTION_NAMES = Object.keys(SECTIONS) as Section[];
const TOP_LEVEL_KEYS = [...SECTION_NAMES, 'service'];
const PIPELINE_LISTS = ['receivers', 'processors', 'exporters'] as const;
/** Undefined pipeline references that get a "did you mean" or a list of valid names. */
const MAX_REFERENCE_HINTS = 100;

/** `type` or `type/name`, as in the OpenTelemetry Collector. */
export const COMPONENT_ID = /^([a-zA-Z][a-zA-Z0-9_]*)(?:\/([^\s/]+))?$/;
/** One signal, flows: `flows` or `flows/<name>`. */
export const PIPELINE_ID = /^flows(?:\/[^\s/]+)?$/;

const telemetrySchema = z.strictObject({
  metrics: z
    .strictObject({
      endpoint: z
        .string({ error: 'expected an endpoint like 127.0.0.1:8888, or none' })
        .superRefine((text, ctx) => {
          if (text !== 'none' && !parseEndpoint(text)) {
            ctx.addIssue({ code: 'custom', message: `invalid endpoint "${text}": expected host:port, like 127.0.0.1:8888 or [::1]:8888, or none` });
          }
        })
        .default(DEFAULT_TELEMETRY_ENDPOINT),
    })
    .prefault({}),
  logs: z.strictObject({ level: z.enum(LOG_LEVELS).default('info'), encoding: z.enum(LOG_ENCODINGS).default('json') }).prefault({}),
});

const serviceSchema = z.strictObject({
  pipelines: z.unknown(),
  telemetry: telemetrySchema.prefault({}),
});

const pipelineSchema = z.strictObject({
  receivers: z.array(z.string()).optional(),
  processors: z.array(z.string()).optional(),
  exporters: z.array(z.string()).optional(),
});

/**
 * An empty value (`key:`) means "the default": such keys are dropped from maps
 * before parsing. Except a section that is off unless present (an optional
 * object that accepts `{}`, like the otlp receiver's `protocols.http`): as in
 * the Collector, `http:` with nothing under it turns it on with its defaults.
 * `schema` (the component's, when known) tells which keys those are.
 */
function withoutEmptyKeys(v: unknown, schema?: unknown): unknown {
  if (Array.isArray(v)) return v.map((child) => withoutEmptyKeys(child));
  if (!isPlainMap(v)) return v;
  const shape = objectShape(schema);
  const out: Record<string, unknown> = {};
  for (const [k, child] of Object.entries(v)) {
    const field = shape?.[k];
    if (child !== null) defineKey(out, k, withoutEmptyKeys(child, field));
    else if (isOptionalSection(field)) defineKey(out, k, {});
  }
  return out;
}

interface SchemaDef {
  type: string;
  shape?: Record<string, unknown>;
  innerType?: unknown;
  in?: unknown;
}

function defOf(schema: unknown): SchemaDef | undefined {
  return (schema as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;
}

/** The fields of the object schema under `schema`'s wrappers (optional, default, prefault, a transform's input), if it is one. */
function objectShape(schema: unknown): Record<string, unknown> | undefined {
  for (let def = defOf(schema), depth = 0; def !== undefined && depth < 8; depth++) {
    if (def.type === 'object') return def.shape;
    def = defOf(def.innerType ?? def.in);
  }
  return undefined;
}

/** An optional object (absent: off; no default) that parses from `{}`. */
function isOptionalSection(schema: unknown): boolean {
  const def = defOf(schema);
  return def?.type === 'optional' && objectShape(def.innerType) !== undefined && (def.innerType as z.ZodType).safeParse({}).success;
}

function deepFreeze<T>(v: T): T {
  if (Array.isArray(v) || isPlainMap(v)) {
    for (const child of Object.values(v as object)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

function kindName(section: Section): string {
  return SECTIONS[section];
}

export function validateConfig(merged: MergedConfig, files: readonly string[], registry: FactoryRegistry): { config?: ServiceConfig; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const at = (path: readonly (string | number)[]) => positionOf(merged, path);
  // Without any position (every file empty), a problem names the last file given.
  const report = (path: readonly (string | number)[], message: string) => {
    const position = at(path);
    problems.push(position ? { path, position, message } : { path, file: files.at(-1), message });
  };
  const root = merged.value;
  /** How many undefined references got a suggestion: past a few, the search costs more than it helps. */
  let hinted = 0;

  for (const key of Object.keys(root)) {
    if (!TOP_LEVEL_KEYS.includes(key)) report([key], `unknown key "${key}"${suggestion(key, TOP_LEVEL_KEYS, 'keys')}`);
  }

  // Components.
  const components: Record<Section, Map<string, ComponentConfig>> = { receivers: new Map(), processors: new Map(), exporters: new Map() };
  /** IDs defined in a section even if their settings are invalid (so pipelines do not report them as undefined). */
  const defined: Record<Section, Set<string>> = { receivers: new Set(), processors: new Set(), exporters: new Set() };
  for (const section of SECTION_NAMES) {
    const entries = root[section];
    if (entries === undefined || entries === null) continue;
    if (!isPlainMap(entries)) {
      report([section], `expected a map of component IDs to their settings, got ${Array.isArray(entries) ? 'a sequence' : `${typeof entries} ${JSON.stringify(entries)}`}`);
      continue;
    }
    const kind = SECTIONS[section];
    for (const [id, raw] of Object.entries(entries)) {
      const path = [section, id];
      const m = COMPONENT_ID.exec(id);
      if (!m) {
        report(path, `invalid component ID "${id}": expected type or type/name, like otlp or otlp/gateway`);
        continue;
      }
      defined[section].add(id);
      const type = m[1]!;
      const factory = registry.get(kind, type);
      if (!factory) {
        const known = registry.types(kind);
        const otherKind = SECTION_NAMES.find((s) => s !== section && registry.get(SECTIONS[s], type));
        const hint = otherKind
          ? `; "${type}" is ${kindName(otherKind) === 'exporter' ? 'an' : 'a'} ${kindName(otherKind)}: move it under ${otherKind}`
          : known.length === 0
            ? `; no ${kind} types are built in`
            : suggestion(type, known, `${kind} types`);
        report(path, `unknown ${kind} type "${type}"${hint}`);
        continue;
      }
      const input = withoutEmptyKeys(raw ?? {}, factory.configSchema);
      const parsed = factory.configSchema.safeParse(input);
      if (!parsed.success) {
        problems.push(...issuesToProblems(parsed.error.issues, path, input, factory.configSchema, merged));
        continue;
      }
      components[section].set(id, { id, kind, type, config: deepFreeze(parsed.data) });
    }
  }

  // Service.
  let telemetry: ServiceConfig['telemetry'] = { metricsEndpoint: DEFAULT_TELEMETRY_ENDPOINT, logLevel: 'info', logEncoding: 'json' };
  const pipelines = new Map<string, PipelineConfig>();
  const service = root.service;
  if (service === undefined || service === null) {
    report(['service'], 'missing required section: add service::pipelines::flows with receivers and exporters');
  } else if (!isPlainMap(service)) {
    report(['service'], `expected a map with pipelines and telemetry, got ${Array.isArray(service) ? 'a sequence' : `${typeof service} ${JSON.stringify(service)}`}`);
  } else {
    const input = withoutEmptyKeys(service);
    const parsed = serviceSchema.safeParse(input);
    if (!parsed.success) problems.push(...issuesToProblems(parsed.error.issues, ['service'], input, serviceSchema, merged));
    else {
      const endpoint = parsed.data.telemetry.metrics.endpoint;
      const { level, encoding } = parsed.data.telemetry.logs;
      telemetry = { metricsEndpoint: endpoint === 'none' ? null : endpoint, logLevel: level, logEncoding: encoding };
    }
    validatePipelines(service.pipelines);
  }

  function referenceHint(section: Section, ref: string): string {
    if (defined[section].size === 0) return `; no ${section} are defined`;
    if (hinted++ >= MAX_REFERENCE_HINTS) return '';
    return suggestion(ref, [...defined[section]], section);
  }

  function validatePipelines(raw: unknown): void {
    const base = ['service', 'pipelines'];
    if (raw === undefined || raw === null || (isPlainMap(raw) && Object.keys(raw).length === 0)) {
      report(base, 'no pipelines defined: add service::pipelines::flows with receivers and exporters');
      return;
    }
    if (!isPlainMap(raw)) {
      report(base, `expected a map of pipelines (flows, flows/<name>), got ${Array.isArray(raw) ? 'a sequence' : `${typeof raw} ${JSON.stringify(raw)}`}`);
      return;
    }
    for (const [name, value] of Object.entries(raw)) {
      const path = [...base, name];
      if (!PIPELINE_ID.test(name)) {
        report(path, `invalid pipeline name "${name}": expected flows or flows/<name> (zonetap has one signal, flows)`);
        continue;
      }
      if (value === null || (isPlainMap(value) && PIPELINE_LISTS.every((l) => value[l] === undefined || value[l] === null || (Array.isArray(value[l]) && value[l].length === 0)))) {
        report(path, 'pipeline is empty: it needs at least one receiver and one exporter');
        continue;
      }
      const input = withoutEmptyKeys(value);
      const parsed = pipelineSchema.safeParse(input);
      if (!parsed.success) {
        problems.push(...issuesToProblems(parsed.error.issues, path, input, pipelineSchema, merged));
        continue;
      }
      const lists = { receivers: parsed.data.receivers ?? [], processors: parsed.data.processors ?? [], exporters: parsed.data.exporters ?? [] };
      if (lists.receivers.length === 0) report([...path, 'receivers'], 'a pipeline needs at least one receiver');
      if (lists.exporters.length === 0) report([...path, 'exporters'], 'a pipeline needs at least one exporter');
      for (const section of PIPELINE_LISTS) {
        const seen = new Set<string>();
        lists[section].forEach((ref, i) => {
          const refPath = [...path, section, i];
          if (seen.has(ref)) report(refPath, `"${ref}" is listed twice in this pipeline`);
          seen.add(ref);
          if (!defined[section].has(ref)) report(refPath, `references ${SECTIONS[section]} "${ref}", which is not defined under ${section}${referenceHint(section, ref)}`);
        });
      }
      pipelines.set(name, { id: name, ...lists });
    }
  }

  // Unused components are allowed (as in the Collector) but worth a warning.
  const warnings: string[] = [];
  for (const section of SECTION_NAMES) {
    const used = new Set([...pipelines.values()].flatMap((p) => p[section]));
    for (const id of defined[section]) {
      if (!used.has(id)) warnings.push(formatProblem({ path: [section, id], position: at([section, id]), message: `not used by any pipeline` }));
    }
  }

  if (problems.length > 0) return { problems };
  return {
    problems,
    config: {
      files,
      receivers: components.receivers,
      processors: components.processors,
      exporters: components.exporters,
      pipelines,
      telemetry,
      warnings,
    },
  };
}
