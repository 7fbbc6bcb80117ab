/**
 * Attribute limits (issue: hostile or broken senders): a point whose
 * attributes break them is refused whole and counted (`over_limits`), since
 * its attribute set would be kept as a stream and served as labels. Named as
 * the OpenTelemetry SDKs name theirs: `attribute_value_length_limit`
 * (characters of a value, or of a key) and `attribute_count_limit`.
 */
import { anyValueToJs, type KeyValue } from './proto.ts';

export interface AttributeLimits {
  /** Longest key or value, in characters (a value that is not a string: its text form). */
  valueLength: number;
  /** Most attributes on one point (or one resource). */
  count: number;
}

/** Most bytes an encoded KeyValue can take within the limits: two strings of `valueLength` characters (up to 3 UTF-8 bytes each) and tags. */
export function maxEncodedAttributesBytes(limits: AttributeLimits): number {
  return limits.count * (2 * 3 * limits.valueLength + 24);
}

/** What is wrong with a list of attributes, or undefined when it keeps within the limits. */
export function attributesOverLimits(attributes: readonly KeyValue[], limits: AttributeLimits): string | undefined {
  if (attributes.length > limits.count) return `${attributes.length} attributes, more than attribute_count_limit ${limits.count}`;
  for (const kv of attributes) {
    if (kv.key.length > limits.valueLength) return `a key of ${kv.key.length} characters, more than attribute_value_length_limit ${limits.valueLength}`;
    let value;
    try {
      value = anyValueToJs(kv.value);
    } catch (err) {
      return `"${kv.key.slice(0, 64)}": ${(err as Error).message}`;
    }
    const length = typeof value === 'string' ? value.length : String(value).length;
    if (length > limits.valueLength) return `"${kv.key.slice(0, 64)}" has a value of ${length} characters, more than attribute_value_length_limit ${limits.valueLength}`;
  }
  return undefined;
}
