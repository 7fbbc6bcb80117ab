/**
 * Configuration from files (loadConfig), from YAML text given in code
 * (parseConfig) or from a plain object (configFromObject): read, merge,
 * substitute and validate, reporting every problem at once.
 */
import type { ComponentKind } from '../component.ts';
import type { FactoryRegistry } from '../registry.ts';
import { mergeConfigs } from './merge.ts';
import { ConfigError, sortProblems } from './problems.ts';
import type { ConfigProblem } from './problems.ts';
import { isPlainMap, parseConfigText, pathKey } from './source.ts';
import type { LocatedConfig } from './source.ts';
import { readSource, sourceName } from './sources.ts';
import type { ConfigSource } from './sources.ts';
import type { ServiceConfig } from './types.ts';
import { COMPONENT_ID, SECTIONS, validateConfig } from './validate.ts';

export interface LoadOptions {
  /** Where `${env:NAME}` and `env:NAME` sources are looked up; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** A component type a configuration names: what a registry must hold to validate it. */
export interface ComponentType {
  kind: ComponentKind;
  type: string;
}

/**
 * The registry, or a function that gives one holding (at least) the factories
 * of the component types a configuration names: called once the sources have
 * been read, so that only the components a configuration uses are loaded.
 */
export type RegistryFor = FactoryRegistry | ((used: readonly ComponentType[]) => Promise<FactoryRegistry>);

/** The component types named under receivers, processors and exporters of any source. */
function componentTypes(sources: readonly LocatedConfig[]): ComponentType[] {
  const found = new Map<string, ComponentType>();
  for (const { value } of sources) {
    if (!isPlainMap(value)) continue;
    for (const [section, kind] of Object.entries(SECTIONS)) {
      const entries = value[section];
      if (!isPlainMap(entries)) continue;
      for (const id of Object.keys(entries)) {
        const type = COMPONENT_ID.exec(id)?.[1];
        if (type) found.set(`${kind}/${type}`, { kind, type });
      }
    }
  }
  return [...found.values()];
}

/** The name problems give configuration text or objects that came from no file. */
export const INLINE_CONFIG_NAME = '<config>';

/**
 * Loads one or more configuration sources (sources.ts: files, `env:`,
 * `yaml:`, `--set`; later sources win, maps merge deeply) and validates them
 * against the registry's factories. The registry may be given as a function
 * (RegistryFor): it is then called only once the sources have been read and
 * parsed, so a file that cannot be read is reported without loading any
 * component.
 * @throws ConfigError (a ZonetapError, code ZT_CONFIG_READ or ZT_CONFIG_INVALID) listing every problem.
 */
export async function loadConfig(sources: readonly ConfigSource[], registry: RegistryFor, options: LoadOptions = {}): Promise<ServiceConfig> {
  const names = sources.map(sourceName);
  if (sources.length === 0) throw new ConfigError('ZT_CONFIG_READ', [{ path: [], message: 'no configuration file given: pass --config FILE' }]);
  const read = await Promise.all(sources.map((s) => readSource(s, options.env)));
  if (read.some((r) => !r.config)) throw new ConfigError('ZT_CONFIG_READ', sortProblems(read.flatMap((r) => r.problems), names));
  const factories = typeof registry === 'function' ? await registry(componentTypes(read.map((r) => r.config!))) : registry;
  return assemble(read, names, factories);
}

/**
 * Validates YAML text given in code, with `${env:NAME}` replaced as in a file;
 * problems name it `name` (default `<config>`) with line and column.
 * @throws ConfigError as loadConfig does.
 */
export function parseConfig(text: string, registry: FactoryRegistry, options: LoadOptions & { name?: string } = {}): ServiceConfig {
  const name = options.name ?? INLINE_CONFIG_NAME;
  return assemble([parseConfigText(text, name, options.env)], [name], registry);
}

/**
 * Validates a configuration given as a plain object shaped like the YAML file
 * (`{ receivers, processors, exporters, service }`). Strings are taken as they
 * are: `${env:NAME}` is not replaced. Problems name it `name` and the key path.
 * @throws ConfigError as loadConfig does.
 */
export function configFromObject(value: unknown, registry: FactoryRegistry, name = INLINE_CONFIG_NAME): ServiceConfig {
  const located: LocatedConfig = { file: name, value: value ?? null, positions: new Map(), unresolved: new Set() };
  return assemble([{ config: located, problems: [] }], [name], registry);
}

/** Merges parsed sources (in order, later ones win) and validates the result. */
function assemble(read: readonly { config?: LocatedConfig; problems: ConfigProblem[] }[], names: readonly string[], registry: FactoryRegistry): ServiceConfig {
  const readProblems: ConfigProblem[] = read.flatMap((r) => r.problems);
  const unreadable = read.some((r) => !r.config);
  if (unreadable) throw new ConfigError('ZT_CONFIG_READ', sortProblems(readProblems, names));

  const files: LocatedConfig[] = [];
  for (const { config } of read) {
    const c = config!;
    if (c.value === null) continue; // an empty file adds nothing
    if (!isPlainMap(c.value)) {
      const found = Array.isArray(c.value) ? 'a sequence' : `${typeof c.value} ${JSON.stringify(c.value)}`;
      const position = c.positions.get(pathKey([]));
      readProblems.push({
        path: [],
        ...(position ? { position } : { file: c.file }),
        message: `expected a map with receivers, processors, exporters and service at the top level, got ${found}`,
      });
      continue;
    }
    files.push(c);
  }
  // A file that is not a map cannot be merged: validating the rest would only add misleading problems.
  if (files.length < read.filter((r) => r.config!.value !== null).length) throw new ConfigError('ZT_CONFIG_INVALID', sortProblems(readProblems, names));
  const merged = mergeConfigs(files);
  const { config, problems } = validateConfig(merged, names, registry);
  // A value whose environment variable is missing is reported once, for the variable, not again for its schema.
  const unresolved = new Set(files.flatMap((f) => [...f.unresolved]));
  const all = [...readProblems, ...problems.filter((p) => !unresolved.has(pathKey(p.path)))];
  if (all.length > 0 || !config) throw new ConfigError('ZT_CONFIG_INVALID', sortProblems(all, names));
  return config;
}
