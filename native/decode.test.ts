import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ADDON_PATH, nativeModule } from './addon.ts';
import { KEY_SIZE, RECORD_SIZE, decodeFlows, ipv6, sumOverflow, transportName } from './decode.ts';

/** Builds one drained record as the addon lays it out (bpf/flows.h). */
function record(r: { family: 4 | 6; protocol: number; saddr: number[]; daddr: number[]; sport: number; dport: number; bytes: bigint; packets: bigint; cgroupId?: bigint }): Buffer {
  const b = Buffer.alloc(RECORD_SIZE);
  b.set(r.saddr, 0);
  b.set(r.daddr, 16);
  b.writeUInt16BE(r.sport, 32);
  b.writeUInt16BE(r.dport, 34);
  b.writeUInt8(r.family, 36);
  b.writeUInt8(r.protocol, 37);
  b.writeBigUInt64LE(r.cgroupId ?? 0n, 40);
  b.writeBigUInt64LE(r.bytes, KEY_SIZE);
  b.writeBigUInt64LE(r.packets, KEY_SIZE + 8);
  return b;
}

test('decodes IPv4 and IPv6 records: addresses, ports in network order, transport, counters', () => {
  const v6src = [0xfd, 0, 0, 0x31, ...Array(11).fill(0), 1];
  const raw = Buffer.concat([
    record({ family: 4, protocol: 17, saddr: [10, 1, 0, 5], daddr: [10, 2, 0, 7], sport: 43122, dport: 5432, bytes: 18234n, packets: 31n }),
    record({ family: 6, protocol: 6, saddr: v6src, daddr: [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 0x10], sport: 443, dport: 1, bytes: 2n ** 40n + 1n, packets: 1n }),
    record({ family: 4, protocol: 1, saddr: [192, 168, 1, 1], daddr: [8, 8, 8, 8], sport: 0, dport: 0, bytes: 84n, packets: 1n, cgroupId: 2n ** 40n + 7n }),
  ]);
  const cgroupIds: number[] = [];
  assert.deepEqual(decodeFlows(raw, cgroupIds), [
    { src: { address: '10.1.0.5', port: 43122 }, dst: { address: '10.2.0.7', port: 5432 }, transport: 'udp', ipFamily: 'ipv4', bytes: 18234, packets: 31 },
    { src: { address: 'fd00:31::1', port: 443 }, dst: { address: '2001:db8::10', port: 1 }, transport: 'tcp', ipFamily: 'ipv6', bytes: 2 ** 40 + 1, packets: 1 },
    { src: { address: '192.168.1.1', port: 0 }, dst: { address: '8.8.8.8', port: 0 }, transport: 'icmp', ipFamily: 'ipv4', bytes: 84, packets: 1 },
  ]);
  assert.deepEqual(cgroupIds, [0, 0, 2 ** 40 + 7], 'the sending cgroup of each record, by index');
  assert.throws(() => decodeFlows(raw.subarray(1)), /not a whole number of 64-byte records/);
});

test('IPv6 text follows RFC 5952', () => {
  const text = (bytes: number[]) => ipv6(new DataView(Uint8Array.from(bytes).buffer), 0);
  assert.equal(text(Array(16).fill(0)), '::');
  assert.equal(text([...Array(15).fill(0), 1]), '::1');
  assert.equal(text([0xfe, 0x80, ...Array(13).fill(0), 1]), 'fe80::1');
  // Longest run of zero groups wins; a single zero group stays "0".
  assert.equal(text([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), '2001:db8:0:1::1');
  assert.equal(text([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]), '2001:db8:1:1:1:1:1:1');
  assert.equal(text([...Array(10).fill(0), 0xff, 0xff, 10, 0, 0, 1]), '::ffff:10.0.0.1');
});

test('transport names, and overflow counters summed over CPUs', () => {
  assert.deepEqual([1, 6, 17, 58, 132].map(transportName), ['icmp', 'tcp', 'udp', 'icmpv6', '132']);
  const perCpu = Buffer.alloc(48);
  [100n, 2n, 1n, 50n, 1n, 1n].forEach((v, i) => perCpu.writeBigUInt64LE(v, i * 8));
  assert.deepEqual(sumOverflow(perCpu), { bytes: 150, packets: 3, failedInserts: 2 });
});

test('the record layout matches the one the addon was compiled with (bpf/flows.h)', (t) => {
  if (!existsSync(ADDON_PATH)) {
    if (process.env.CI) assert.fail(`${ADDON_PATH} is missing: run make build`);
    t.skip('native addon not built');
    return;
  }
  const native = nativeModule();
  assert.equal(native.flowKeySize, KEY_SIZE);
  assert.equal(native.flowKeySize + native.flowCountersSize, RECORD_SIZE);
  assert.equal(native.overflowCountersSize, 24);
  assert.equal(native.flowCacheEntrySize, 64);
  assert.equal(native.flowCacheSlots, 1024);
});
