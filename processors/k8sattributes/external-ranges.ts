/**
 * Named blocks outside the cluster, for either source: the `external` list of
 * the config and the cloud providers' published range files (AWS
 * ip-ranges.json, GCP cloud.json, Azure Service Tags JSON), read from the
 * paths the user gives; zonetap never downloads them. Each prefix is named
 * by its service and region, so a flow to S3 in the cluster's own region
 * classifies apart from one to S3 in another region (processors/crosszone).
 *
 * One CidrMap holds every block: a lookup is one Map get per prefix length
 * in use (about 25 for IPv4 with AWS's file), whatever the number of blocks
 * (bench/k8sattributes.bench.ts measures 10k).
 */
import { readFileSync } from 'node:fs';
import { CidrMap, parseCidr, type Cidr } from '../../net/index.ts';
import { EXTERNAL, newIdentity, type ExternalEntry } from './directory.ts';

/** What an external block is; says how its traffic is billed, for people reading flows and advice. */
export const EXTERNAL_KINDS = ['managed_service', 'peered_vpc', 'on_prem', 'cloud_provider', 'other'] as const;
export type ExternalKind = (typeof EXTERNAL_KINDS)[number];

/** The published range files zonetap reads (never downloads). */
export const RANGE_PROVIDERS = ['aws', 'gcp', 'azure'] as const;
export type RangeProvider = (typeof RANGE_PROVIDERS)[number];

/** An `external` block as validated by external-config.ts. */
export interface ExternalBlock {
  name: string;
  cidrs: readonly Cidr[];
  zone?: string | undefined;
  region?: string | undefined;
  kind: ExternalKind;
}

/** An `external_ranges` entry as validated by external-config.ts. */
export interface RangeFileRef {
  provider: RangeProvider;
  path: string;
}

/** One prefix of a provider's file, named. `rank` breaks ties between entries of one prefix: higher is more specific. */
interface RangeEntry {
  cidr: Cidr;
  name: string;
  region: string | undefined;
  rank: number;
}

/** Thrown for a range file that is not in its provider's format; the message says where. */
export class RangeFileError extends Error {}

function fail(path: string, where: string, what: string): never {
  throw new RangeFileError(`${path}: ${where}: ${what}`);
}

function record(value: unknown, path: string, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, where, 'expected an object');
  return value as Record<string, unknown>;
}

function list(value: unknown, path: string, where: string): unknown[] {
  if (!Array.isArray(value)) fail(path, where, 'expected a list');
  return value;
}

function text(value: unknown, path: string, where: string): string {
  if (typeof value !== 'string') fail(path, where, 'expected a string');
  return value;
}

function block(value: unknown, path: string, where: string): Cidr {
  const c = parseCidr(text(value, path, where));
  if (!c) fail(path, where, `invalid CIDR ${JSON.stringify(value)}`);
  return c;
}

/** AWS ip-ranges.json: prefixes[] {ip_prefix, region, service}, ipv6_prefixes[] {ipv6_prefix, ...}. "AMAZON" lists every prefix again: a named service wins. */
function awsRanges(doc: Record<string, unknown>, path: string): RangeEntry[] {
  const out: RangeEntry[] = [];
  for (const [key, field] of [['prefixes', 'ip_prefix'], ['ipv6_prefixes', 'ipv6_prefix']] as const) {
    list(doc[key], path, key).forEach((item, i) => {
      const p = record(item, path, `${key}[${i}]`);
      const service = text(p.service, path, `${key}[${i}].service`);
      const region = text(p.region, path, `${key}[${i}].region`);
      out.push({ cidr: block(p[field], path, `${key}[${i}].${field}`), name: `aws:${service}`, region: region === 'GLOBAL' ? undefined : region, rank: service === 'AMAZON' ? 0 : 1 });
    });
  }
  return out;
}

/** GCP cloud.json: prefixes[] {ipv4Prefix | ipv6Prefix, service, scope}; scope is a region or "global". */
function gcpRanges(doc: Record<string, unknown>, path: string): RangeEntry[] {
  return list(doc.prefixes, path, 'prefixes').map((item, i) => {
    const p = record(item, path, `prefixes[${i}]`);
    const field = p.ipv4Prefix !== undefined ? 'ipv4Prefix' : p.ipv6Prefix !== undefined ? 'ipv6Prefix' : fail(path, `prefixes[${i}]`, 'expected ipv4Prefix or ipv6Prefix, as in GCP\'s cloud.json');
    const scope = text(p.scope, path, `prefixes[${i}].scope`);
    const regional = scope !== 'global';
    return { cidr: block(p[field], path, `prefixes[${i}].${field}`), name: `gcp:${text(p.service, path, `prefixes[${i}].service`)}`, region: regional ? scope : undefined, rank: regional ? 1 : 0 };
  });
}

/**
 * Azure Service Tags: values[] {name, properties {region, systemService,
 * addressPrefixes[]}}. One prefix is in several tags (AzureCloud,
 * AzureCloud.westeurope, AzureStorage, AzureStorage.WestEurope): a tag with a
 * service and a region wins, then one with a region.
 */
function azureRanges(doc: Record<string, unknown>, path: string): RangeEntry[] {
  const out: RangeEntry[] = [];
  list(doc.values, path, 'values').forEach((item, i) => {
    const tag = record(item, path, `values[${i}]`);
    const tagName = text(tag.name, path, `values[${i}].name`);
    const props = record(tag.properties, path, `values[${i}].properties`);
    const region = props.region === undefined ? '' : text(props.region, path, `values[${i}].properties.region`);
    const service = props.systemService === undefined ? '' : text(props.systemService, path, `values[${i}].properties.systemService`);
    const name = `azure:${service || tagName.split('.')[0]}`;
    const rank = (service ? 1 : 0) + (region ? 2 : 0);
    list(props.addressPrefixes, path, `values[${i}].properties.addressPrefixes`).forEach((p, j) => {
      out.push({ cidr: block(p, path, `values[${i}].properties.addressPrefixes[${j}]`), name, region: region || undefined, rank });
    });
  });
  return out;
}

const PARSERS: Record<RangeProvider, (doc: Record<string, unknown>, path: string) => RangeEntry[]> = { aws: awsRanges, gcp: gcpRanges, azure: azureRanges };

/** The named prefixes of one provider file; throws RangeFileError saying where the file breaks its format. */
export function readRangeFile(provider: RangeProvider, path: string): RangeEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new RangeFileError(`${path}: not a ${provider} range file: ${(err as Error).message}`);
  }
  return PARSERS[provider](record(doc, path, 'top level'), path);
}

/** Every external block of the config, longest prefix first on lookup. */
export class ExternalBlocks {
  readonly #blocks = new CidrMap<ExternalEntry>();

  /** Loads the config's blocks and range files; throws RangeFileError for a file not in its format. */
  constructor(blocks: readonly ExternalBlock[], ranges: readonly RangeFileRef[]) {
    // One entry per (name, region, kind), shared by its prefixes: 10k prefixes are a few hundred entries.
    const entries = new Map<string, ExternalEntry>();
    const entry = (name: string, zone: string | undefined, region: string | undefined, kind: ExternalKind): ExternalEntry => {
      const key = `${name}\u0000${zone ?? ''}\u0000${region ?? ''}\u0000${kind}`;
      let e = entries.get(key);
      if (e === undefined) entries.set(key, (e = { kind: EXTERNAL, identity: newIdentity(), name, zone, region, externalKind: kind }));
      return e;
    };
    // The same prefix in several places: the user's own block first, then the most specific range entry.
    const chosen = new Map<string, { cidr: Cidr; value: ExternalEntry; rank: number }>();
    const offer = (cidr: Cidr, value: ExternalEntry, rank: number) => {
      const key = `${cidr.family}/${cidr.network}/${cidr.prefix}`;
      const had = chosen.get(key);
      if (had === undefined || rank > had.rank) chosen.set(key, { cidr, value, rank });
    };
    for (const r of ranges) for (const e of readRangeFile(r.provider, r.path)) offer(e.cidr, entry(e.name, undefined, e.region, 'cloud_provider'), e.rank);
    for (const b of blocks) for (const c of b.cidrs) offer(c, entry(b.name, b.zone, b.region, b.kind), Number.MAX_SAFE_INTEGER);
    for (const { cidr, value } of chosen.values()) this.#blocks.set(cidr, value);
  }

  /** Number of distinct prefixes. */
  get size(): number {
    return this.#blocks.size;
  }

  /** The longest block containing `address`, or undefined. */
  lookup(address: string): ExternalEntry | undefined {
    return this.#blocks.lookup(address);
  }
}
