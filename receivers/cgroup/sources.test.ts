import { test } from 'node:test';
import assert from 'node:assert/strict';
import { columnsToRecords } from '../../pipeline/columns.ts';
import { decodeColumns, RECORD_SIZE } from '../../native/index.ts';
import { namePodSources } from './sources.ts';

/** A cgroup-table drain chunk of IPv4 UDP flows [source, cgroup id, destination, source port]. */
function chunk(flows: Array<[string, number, string, number]>): Buffer {
  return Buffer.concat(
    flows.map(([src, cgroupId, dst, port]) => {
      const b = Buffer.alloc(RECORD_SIZE);
      b.set(src.split('.').map(Number), 0);
      b.set(dst.split('.').map(Number), 16);
      b.writeUInt16BE(port, 32);
      b.writeUInt16BE(53, 34);
      b.writeUInt8(4, 36);
      b.writeUInt8(17, 37);
      b.writeBigUInt64LE(BigInt(cgroupId), 40);
      b.writeBigUInt64LE(100n, 48);
      b.writeBigUInt64LE(1n, 56);
      return b;
    }),
  );
}

test("sources get their pod's UID: one end per (address, pod), the rest by address alone, rows renumbered", () => {
  // Cgroups 11 and 12: two containers of pod A; 21: pod B (host network, the node's address); 99: outside pods.
  const pods = new Map([[11, 'uid-a'], [12, 'uid-a'], [21, 'uid-b']]);
  const decoded = decodeColumns(
    chunk([
      ['10.0.0.1', 11, '10.0.0.9', 1],
      ['10.0.0.1', 12, '10.0.0.9', 2],
      ['10.0.0.9', 0, '10.0.0.1', 3],
      ['192.168.0.5', 21, '10.0.0.1', 4],
      ['192.168.0.5', 99, '10.0.0.9', 5],
      ['192.168.0.5', 0, '192.168.0.5', 6],
    ]),
    true,
  );
  assert.equal(decoded.columns.ends.length, 7, 'before: an end per (address, cgroup)');
  const before = columnsToRecords(decoded.columns);
  namePodSources(decoded, { podUid: (id) => pods.get(id) });
  const { columns } = decoded;
  assert.equal(decoded.endCgroups, undefined, 'the end numbers the cgroups were by are gone');
  assert.deepEqual(columns.ends, [
    { address: '10.0.0.1', port: 0, podUid: 'uid-a' },
    { address: '10.0.0.9', port: 0 },
    { address: '10.0.0.1', port: 0 },
    { address: '192.168.0.5', port: 0, podUid: 'uid-b' },
    { address: '192.168.0.5', port: 0 },
  ]);
  assert.ok(columns.ends.every((e) => Object.isFrozen(e)));
  const podOf = (i: number) => columns.ends[columns.src[i]!]!.podUid ?? null;
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(podOf), ['uid-a', 'uid-a', null, 'uid-b', null, null]);
  const withoutUid = columnsToRecords(columns).map((r) => ({ ...r, src: { address: r.src.address, port: r.src.port } }));
  assert.deepEqual(withoutUid, before, 'the same flows, only named');

  // Nothing to merge: the ends keep their numbers.
  const alone = decodeColumns(chunk([['10.0.0.1', 11, '10.0.0.9', 1]]), true);
  namePodSources(alone, { podUid: (id) => pods.get(id) });
  assert.deepEqual(columnsToRecords(alone.columns)[0]!.src, { address: '10.0.0.1', port: 1, podUid: 'uid-a' });
});
