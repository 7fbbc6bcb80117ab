/** Address arithmetic: dotted quads, IPv6 text, CIDR blocks, and what counts as the public internet. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalAddress, CidrMap, cidrContains, cidrsOverlap, ipv4ToNumber, isPublicAddress, parseAddress, parseCidr } from './index.ts';

test('ipv4ToNumber reads dotted quads and refuses anything else', () => {
  assert.equal(ipv4ToNumber('0.0.0.0'), 0);
  assert.equal(ipv4ToNumber('255.255.255.255'), 4294967295);
  assert.equal(ipv4ToNumber('10.1.2.3'), 0x0a010203);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.', 'a.b.c.d', '1.2.3.4 ', '1234.1.1.1', '::1']) assert.equal(ipv4ToNumber(bad), -1, bad);
});

test('isPublicAddress: private, shared, loopback, link-local, ULA, multicast are not internet', () => {
  const expected: [string, boolean][] = [
    ['8.8.8.8', true],
    ['93.184.216.34', true],
    ['9.255.255.255', true],
    ['10.0.0.0', false],
    ['10.255.255.255', false],
    ['11.0.0.0', true],
    ['100.63.255.255', true],
    ['100.64.0.0', false],
    ['100.127.255.255', false],
    ['100.128.0.0', true],
    ['127.0.0.1', false],
    ['169.254.169.254', false],
    ['172.15.255.255', true],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['172.32.0.0', true],
    ['192.168.1.1', false],
    ['192.169.0.0', true],
    ['0.0.0.0', false],
    ['224.0.0.251', false],
    ['239.255.255.255', false],
    ['255.255.255.255', false],
    ['2001:4860:4860::8888', true],
    ['2001:db8::53', true],
    ['2600::1', true],
    ['fc00::1', false],
    ['fd12:3456::1', false],
    ['FD00::1', false],
    ['fe80::1', false],
    ['febf::1', false],
    ['fec0::1', true],
    ['fbff::1', true],
    ['fc0::1', true], // 0x0fc0: not in fc00::/7
    ['ff02::1', false],
    ['::1', false],
    ['::', false],
    ['::ffff:8.8.8.8', true],
    ['::ffff:10.0.0.1', false],
    ['not-an-address', false],
    ['', false],
  ];
  for (const [address, isPublic] of expected) assert.equal(isPublicAddress(address), isPublic, address);
});

test('isPublicAddress agrees with cidrContains on the listed ranges', () => {
  const ranges = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16'].map((c) => parseCidr(c)!);
  let state = 12345;
  for (let i = 0; i < 20_000; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const a = state >>> 24;
    const address = `${a === 0 || a >= 224 ? 10 : a}.${(state >>> 16) & 255}.${(state >>> 8) & 255}.${state & 255}`;
    const inRange = ranges.some((r) => cidrContains(r, address));
    assert.equal(isPublicAddress(address), !inRange, address);
  }
});

test('parseAddress reads both families; IPv4-mapped IPv6 text is IPv6', () => {
  assert.deepEqual(parseAddress('10.1.2.3'), { value: 0x0a010203n, family: 4 });
  assert.deepEqual(parseAddress('::1'), { value: 1n, family: 6 });
  assert.deepEqual(parseAddress('fd00::1:2'), { value: (0xfd00n << 112n) | (1n << 16n) | 2n, family: 6 });
  assert.deepEqual(parseAddress('::ffff:10.0.0.1'), { value: (0xffffn << 32n) | 0x0a000001n, family: 6 });
  for (const bad of ['', '10.1.2', 'fd00::g', 'host.example']) assert.equal(parseAddress(bad), undefined, bad);
});

test('parseCidr clears host bits, takes a bare address as one host, refuses bad prefixes', () => {
  assert.deepEqual(parseCidr('10.1.2.3/8'), { text: '10.1.2.3/8', family: 4, network: 0x0a000000n, mask: 0xff000000n, prefix: 8 });
  assert.equal(parseCidr('10.0.0.1')!.prefix, 32);
  assert.equal(parseCidr('fd00::/8')!.network, 0xfdn << 120n);
  assert.equal(parseCidr('0.0.0.0/0')!.mask, 0n);
  for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0.0/8/1', '10.0.0.0/x', '/8', 'nope/8']) assert.equal(parseCidr(bad), undefined, bad);
});

test('cidrContains: inside, outside, other family, not an address', () => {
  const block = parseCidr('10.200.0.0/24')!;
  assert.equal(cidrContains(block, '10.200.0.255'), true);
  assert.equal(cidrContains(block, '10.200.1.0'), false);
  assert.equal(cidrContains(block, '::ffff:10.200.0.1'), false, 'IPv4-mapped IPv6 is the other family');
  assert.equal(cidrContains(block, 'not-an-address'), false);
  assert.equal(cidrContains(parseCidr('fd00::/8')!, 'fd12::1'), true);
});

test('CidrMap: longest prefix wins, families apart, delete only its own owner, agrees with cidrContains', () => {
  const map = new CidrMap<string>();
  const blocks = ['10.244.0.0/16', '10.244.1.0/24', '10.244.2.0/24', 'fd01:0:0:1::/64', '0.0.0.0/0'].map((t) => parseCidr(t)!);
  for (const b of blocks) map.set(b, b.text);
  assert.equal(map.size, 5);
  assert.equal(map.lookup('10.244.1.7'), '10.244.1.0/24');
  assert.equal(map.lookup('10.244.3.7'), '10.244.0.0/16');
  assert.equal(map.lookup('192.0.2.1'), '0.0.0.0/0');
  assert.equal(map.lookup('fd01:0:0:1::a'), 'fd01:0:0:1::/64');
  assert.equal(map.lookup('fd01:0:0:2::a'), undefined, 'no IPv6 default: an IPv6 address never matches an IPv4 block');
  assert.equal(map.lookup('not-an-address'), undefined);
  map.delete(blocks[1]!, 'someone else');
  assert.equal(map.lookup('10.244.1.7'), '10.244.1.0/24', 'a block is removed only by the owner it maps to');
  map.delete(blocks[1]!, '10.244.1.0/24');
  assert.equal(map.lookup('10.244.1.7'), '10.244.0.0/16');
  assert.equal(map.size, 4);
  for (const address of ['10.244.2.1', '10.245.0.1', 'fd01:0:0:1::1', '8.8.8.8']) {
    const expected = blocks.filter((b) => b !== blocks[1] && cidrContains(b, address)).sort((a, b) => b.prefix - a.prefix)[0]?.text;
    assert.equal(map.lookup(address), expected, address);
  }
});

test('cidrsOverlap: containment either way, disjoint blocks, other family', () => {
  const c = (t: string) => parseCidr(t)!;
  assert.equal(cidrsOverlap(c('10.244.0.0/16'), c('10.244.7.0/24')), true);
  assert.equal(cidrsOverlap(c('10.244.7.0/24'), c('10.244.0.0/16')), true);
  assert.equal(cidrsOverlap(c('10.244.7.0/24'), c('10.244.8.0/24')), false);
  assert.equal(cidrsOverlap(c('10.244.7.0/24'), c('10.244.7.0/24')), true);
  assert.equal(cidrsOverlap(c('0.0.0.0/0'), c('::/0')), false);
});

test('canonicalAddress compresses and lower-cases IPv6 and leaves IPv4 alone', () => {
  assert.equal(canonicalAddress('FD00:0:0:0:0:0:0:1'), 'fd00::1');
  assert.equal(canonicalAddress('10.1.0.5'), '10.1.0.5');
});
