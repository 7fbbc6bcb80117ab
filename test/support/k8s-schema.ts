/**
 * Strict structural check of Kubernetes manifests against the official client's models
 * (@kubernetes/client-node, generated from the Kubernetes OpenAPI): every field must exist
 * in the API type and have the right JSON type. `kubectl apply --dry-run=client
 * --validate=false` cannot catch a misspelt field offline; this does.
 */
import * as k8s from '@kubernetes/client-node';

interface Attribute { name: string; baseName: string; type: string; format: string }
interface Model { getAttributeTypeMap(): Attribute[] }

/** Model class name for an object's apiVersion and kind, e.g. apps/v1 DaemonSet -> V1DaemonSet. */
export function modelName(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop()!;
  return version.charAt(0).toUpperCase() + version.slice(1) + kind;
}

function model(name: string): Model | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[name];
  return typeof candidate === 'function' && 'getAttributeTypeMap' in candidate ? (candidate as unknown as Model) : undefined;
}

/** True when the client knows this kind (built-in API types; not CRDs such as ServiceMonitor). */
export function isKnownKind(apiVersion: string, kind: string): boolean {
  return model(modelName(apiVersion, kind)) !== undefined;
}

/** Every problem with `value` as an instance of `type` (a client-node type string), with its JSON path. */
export function checkAgainst(type: string, value: unknown, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) return [`${path}: expected a list (${type}), got ${JSON.stringify(value)}`];
    return value.flatMap((item, i) => checkAgainst(array[1]!, item, `${path}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected a map (${type})`];
    return Object.entries(value).flatMap(([k, v]) => checkAgainst(map[1]!, v, `${path}.${k}`));
  }
  switch (type) {
    case 'string':
    case 'Date':
      return typeof value === 'string' ? [] : [`${path}: expected a string, got ${JSON.stringify(value)}`];
    case 'number':
      return typeof value === 'number' ? [] : [`${path}: expected a number, got ${JSON.stringify(value)}`];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected true or false, got ${JSON.stringify(value)}`];
    case 'IntOrString':
      return typeof value === 'number' || typeof value === 'string' ? [] : [`${path}: expected a number or a string`];
    case 'any':
    case 'object':
      return [];
  }
  const m = model(type);
  if (!m) return [`${path}: the client has no model "${type}"`];
  if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: expected an object (${type}), got ${JSON.stringify(value)}`];
  const attributes = new Map(m.getAttributeTypeMap().map((a) => [a.baseName, a]));
  const problems: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const a = attributes.get(key);
    if (!a) problems.push(`${path}.${key}: unknown field of ${type}`);
    else problems.push(...checkAgainst(a.type, v, `${path}.${key}`));
  }
  return problems;
}

/** Problems of one manifest object (built-in kinds only). */
export function checkObject(object: { apiVersion: string; kind: string }): string[] {
  return checkAgainst(modelName(object.apiVersion, object.kind), object, `${object.kind}`);
}
