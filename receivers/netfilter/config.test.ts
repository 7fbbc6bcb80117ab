import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { netfilterConfigSchema } from './config.ts';
import { netfilterReceiverFactory } from './factory.ts';

const testdata = (name: string) => parse(readFileSync(join(import.meta.dirname, 'testdata', name), 'utf8'));

function issues(input: unknown): string[] {
  const result = netfilterConfigSchema.safeParse(input);
  assert.equal(result.success, false);
  return result.error!.issues.map((i) => `${i.path.join('::')}: ${i.message}`);
}

test('the defaults are the documented ones', () => {
  const parsed = netfilterConfigSchema.parse({});
  assert.deepEqual(parsed, { interval: 10_000, max_flows: 65536, ip_families: ['ipv4', 'ipv6'], include_cidrs: [], exclude_cidrs: [] });
  assert.equal(netfilterReceiverFactory.type, 'netfilter');
  assert.equal(netfilterReceiverFactory.kind, 'receiver');
});

test('a full config parses', () => {
  const parsed = netfilterConfigSchema.parse(testdata('full.yaml'));
  assert.equal(parsed.interval, 5000);
  assert.equal(parsed.max_flows, 4096);
  assert.deepEqual(parsed.ip_families, ['ipv4']);
  assert.deepEqual(parsed.include_cidrs.map((c) => c.text), ['10.0.0.0/8', 'fd00::/8']);
  assert.equal(parsed.exclude_cidrs[0]!.prefix, 12);
});

test('broken configs are refused with what was wrong', () => {
  assert.deepEqual(issues(testdata('bad-max-flows.yaml')), ['max_flows: max_flows must be at least 1']);
  assert.deepEqual(issues(testdata('bad-family.yaml')), ['ip_families::1: expected ipv4 or ipv6']);
  assert.deepEqual(issues(testdata('bad-cidr.yaml')), ['include_cidrs::0: invalid CIDR "10.0.0.0/33": expected address/prefix, like 10.0.0.0/8 or fd00::/8']);
  assert.match(issues(testdata('unknown-key.yaml')).join('\n'), /max_flow/);
  assert.deepEqual(issues({ ip_families: ['ipv4', 'ipv4'] }), ['ip_families: ip_families lists a family twice']);
  assert.deepEqual(issues({ ip_families: [] }), ['ip_families: ip_families needs at least one of ipv4, ipv6']);
  assert.deepEqual(issues({ interval: '0s' }), ['interval: invalid duration "0s": expected a positive number with a unit (ms, s, m, h), like 10s']);
  assert.deepEqual(issues({ max_flows: 1.5 }), ['max_flows: expected a whole number of flows, like 65536']);
  assert.deepEqual(issues({ netns: '/nonexistent/netns' }), ['netns: network namespace "/nonexistent/netns" does not exist']);
});
