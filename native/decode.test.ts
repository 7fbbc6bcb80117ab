import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ADDON_PATH, nativeModule } from './addon.ts';
import type { FlowRecord } from '../pipeline/flow.ts';
import { columnsToRecords } from '../pipeline/columns.ts';
import { KEY_SIZE, RECORD_SIZE, SPARE_ROWS, decodeColumns, ipv6, sumOverflow, transportName } from './decode.ts';

/** Builds one drained record as the addon lays it out (bpf/flows.h). */
function record(r: { family: number; protocol: number; saddr: number[]; daddr: number[]; sport: number; dport: number; bytes: bigint; packets: bigint; cgroupId?: bigint }): Buffer {
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

test('decodes IPv4 and IPv6 records into columns: addresses, ports in network order, transport, counters', () => {
  const v6src = [0xfd, 0, 0, 0x31, ...Array(11).fill(0), 1];
  const raw = Buffer.concat([
    record({ family: 4, protocol: 17, saddr: [10, 1, 0, 5], daddr: [10, 2, 0, 7], sport: 43122, dport: 5432, bytes: 18234n, packets: 31n }),
    record({ family: 6, protocol: 6, saddr: v6src, daddr: [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 0x10], sport: 443, dport: 1, bytes: 2n ** 40n + 1n, packets: 1n }),
    record({ family: 4, protocol: 1, saddr: [192, 168, 1, 1], daddr: [10, 1, 0, 5], sport: 0, dport: 0, bytes: 84n, packets: 1n, cgroupId: 2n ** 40n + 7n }),
  ]);
  const { columns, endCgroups } = decodeColumns(raw);
  assert.equal(endCgroups, undefined, 'no cgroups for the netfilter table');
  assert.deepEqual(columnsToRecords(columns), [
    { src: { address: '10.1.0.5', port: 43122 }, dst: { address: '10.2.0.7', port: 5432 }, transport: 'udp', ipFamily: 'ipv4', bytes: 18234, packets: 31 },
    { src: { address: 'fd00:31::1', port: 443 }, dst: { address: '2001:db8::10', port: 1 }, transport: 'tcp', ipFamily: 'ipv6', bytes: 2 ** 40 + 1, packets: 1 },
    { src: { address: '192.168.1.1', port: 0 }, dst: { address: '10.1.0.5', port: 0 }, transport: 'icmp', ipFamily: 'ipv4', bytes: 84, packets: 1 },
  ]);
  assert.deepEqual(
    columns.ends.map((e) => e.address),
    ['10.1.0.5', '10.2.0.7', 'fd00:31::1', '2001:db8::10', '192.168.1.1'],
    'one end per distinct address, a source and a destination alike',
  );
  assert.ok(columns.ends.every((e) => e.port === 0 && Object.isFrozen(e)), 'ends carry port 0 and are read-only');
  assert.ok(columns.src.length >= 3 + SPARE_ROWS, 'room for the overflow rows');

  const cgroup = decodeColumns(raw, true);
  assert.deepEqual(columnsToRecords(cgroup.columns), columnsToRecords(columns), 'the same flows from the cgroup table');
  assert.deepEqual(cgroup.endCgroups, [0, 0, 0, 0, 2 ** 40 + 7], 'the sending cgroup of a source end');
  assert.throws(() => decodeColumns(raw.subarray(1)), /not a whole number of 64-byte records/);
  assert.deepEqual(decodeColumns(Buffer.alloc(0)).columns.length, 0);
});

/** Address text the WHATWG URL parser gives (RFC 5952 but for IPv4-mapped addresses, which the pools avoid). */
function v6Text(bytes: number[]): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

test('randomized drains decode to the flows they hold: one end per address (per address and sending cgroup for sources of the cgroup table)', () => {
  let seed = 7;
  const random = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const v4 = Array.from({ length: 40 }, () => [10, random(4), random(4), random(256)]);
  // Zero runs of every length, so that `::` falls everywhere.
  const v6 = Array.from({ length: 40 }, () => Array.from({ length: 16 }, () => (random(3) === 0 ? random(256) : 0)));
  v6.push([...v4[0]!, ...Array(12).fill(0)], Array(16).fill(0));
  const cgroupIds = [0n, 1n, 2n ** 32n + 1n, 12345n, 2n ** 52n + 3n];
  const protocols = [1, 6, 17, 58, 132, 255];
  for (let round = 0; round < 20; round++) {
    const rows = round === 0 ? 1 : random(3000) + 1;
    const expected: Array<{ record: FlowRecord; cgroupId: number }> = [];
    const raw = Buffer.concat(
      Array.from({ length: rows }, () => {
        const family = random(2) === 0 ? 4 : 6;
        const pool: number[][] = family === 4 ? v4 : v6;
        const saddr = pool[random(pool.length)]!;
        const daddr = pool[random(pool.length)]!;
        const text = (a: number[]) => (family === 4 ? a.join('.') : v6Text(a));
        const r = { family, protocol: protocols[random(protocols.length)]!, saddr, daddr, sport: random(65536), dport: random(65536), bytes: BigInt(random(1e9)) * 1000n, packets: BigInt(random(1e6)), cgroupId: cgroupIds[random(cgroupIds.length)]! } as const;
        expected.push({
          record: { src: { address: text(saddr), port: r.sport }, dst: { address: text(daddr), port: r.dport }, transport: transportName(r.protocol), ipFamily: family === 4 ? 'ipv4' : 'ipv6', bytes: Number(r.bytes), packets: Number(r.packets) },
          cgroupId: Number(r.cgroupId),
        });
        return record(r);
      }),
    );
    for (const cgroups of [false, true]) {
      const { columns, endCgroups } = decodeColumns(raw, cgroups);
      assert.deepEqual(columnsToRecords(columns), expected.map((e) => e.record), `round ${round}, cgroups ${cgroups}`);
      const endKey = (address: string, cgroupId: number) => `${address}/${cgroupId}`;
      const keys = new Set(expected.flatMap(({ record: r, cgroupId }) => [endKey(r.src.address, cgroups ? cgroupId : 0), endKey(r.dst.address, 0)]));
      assert.equal(columns.ends.length, keys.size, 'no end twice, no end unused');
      if (cgroups) assert.deepEqual(expected.map((e, i) => endCgroups![columns.src[i]!]), expected.map((e) => e.cgroupId));
    }
  }
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
