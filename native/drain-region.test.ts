/**
 * The drain's one region of memory (src/records.h), on the real kernel: chunks
 * that JavaScript keeps hold their records while the chunks around them (same
 * region, pages shared at their ends) are collected and give their pages back
 * (MADV_DONTNEED), and while later drains reserve, fill and free regions of
 * their own; and the region sits between PROT_NONE guards, so that a write past
 * either end faults instead of corrupting the mapping next to it. Loopback
 * traffic (IPv4 and IPv6) in its own network namespace. Needs root.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { inNetns, LoopbackNetns, TRAFFIC_SCRIPT } from '../test/support/netns.ts';
import { privilegeProblem, requirePrivileges } from '../test/support/privileges.ts';
import { until } from '../test/support/poll.ts';
import { RECORD_SIZE } from './decode.ts';
import { DRAIN_CHUNK_RECORDS, KernelFlowTable } from './flow-table.ts';

const netns = new LoopbackNetns('zt-region');
const HUGE_PAGE = 2 << 20;

before(() => {
  if (!privilegeProblem()) netns.create();
});
after(() => {
  if (!privilegeProblem()) netns.destroy();
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Full collections until `done()`: Node runs the finalizers of collected
 * Buffers later, on the main thread (after V8 freed their memory on a
 * thread of its own), so one collection is not enough to have them run.
 */
async function collectUntil(what: string, done: () => boolean): Promise<void> {
  await until(what, () => {
    gc();
    return done();
  });
}

/** V8's count of memory outside its heap: the addon adds a drain's records and takes each chunk's off as its finalizer runs. */
const external = () => process.memoryUsage().external;

/** One datagram from each source to each port `first`.. of each destination (comma lists) inside the namespace. */
function spread(sources: string, destinations: string, first: number, ports: number): void {
  inNetns(netns.name, process.execPath, TRAFFIC_SCRIPT, 'spread', sources, destinations, String(first), String(ports), '16');
}

/** Where readable and writable mappings start that start on a huge page and sit between two inaccessible mappings of a huge page each. */
function guardedRegions(): Set<number> {
  const maps = readFileSync('/proc/self/maps', 'utf8').trim().split('\n').map((line) => {
    const [range, perms] = line.split(' ');
    const [start, end] = range!.split('-').map((x) => Number.parseInt(x, 16));
    return { start: start!, end: end!, perms: perms! };
  });
  const starts = new Set<number>();
  for (let i = 1; i + 1 < maps.length; i++) {
    const [before, region, after] = [maps[i - 1]!, maps[i]!, maps[i + 1]!];
    const guard = (m: typeof region) => m.perms === '---p' && m.end - m.start === HUGE_PAGE;
    if (region.perms === 'rw-p' && region.start % HUGE_PAGE === 0 && guard(before) && before.end === region.start && guard(after) && after.start === region.end) starts.add(region.start);
  }
  return starts;
}

type KeptChunk = { chunk: Uint8Array; copy: Buffer };
type Drain = { kept: KeptChunk[]; dropped: number; external: number };

/**
 * Drains, checks the drain, and returns every other chunk (the odd ones in
 * even rounds, the even ones in odd rounds: every boundary between chunks has
 * a kept chunk on one side and a collected one on the other in some round),
 * each with a copy of its records; the bytes of the others, and V8's external
 * memory with all of them alive.
 * A function of its own: a suspended async test would hold the whole drain
 * in its frame, and no chunk would be collected.
 */
async function drainKeepingEveryOther(table: KernelFlowTable, round: number, regions: Set<number>, before: Set<number>): Promise<Drain> {
  const { chunks, flows } = await table.drainRaw();
  assert.ok(flows >= 2 * DRAIN_CHUNK_RECORDS + 3_000, `round ${round}: ${flows} flows drained`);
  assert.ok(chunks.length >= 3, `round ${round}: ${chunks.length} chunks`);
  // This drain's region and those of the rounds before (each holds a chunk kept), each between its guards.
  for (const start of guardedRegions()) if (!before.has(start)) regions.add(start);
  assert.equal(regions.size, round + 1, `round ${round}: a region, between its guards, for each drain whose chunks live`);
  const kept: KeptChunk[] = [];
  let dropped = 0;
  chunks.forEach((chunk, i) => {
    assert.equal(chunk.byteLength % RECORD_SIZE, 0);
    if (i % 2 !== round % 2) kept.push({ chunk, copy: Buffer.from(chunk) });
    else dropped += chunk.byteLength;
  });
  return { kept, dropped, external: external() };
}

/**
 * Four rounds of traffic and a drain, each keeping every other chunk and
 * checking, once the others' finalizers ran, that every chunk kept so far
 * still holds its records. Returns where the drains' regions are. A function
 * of its own, so that no chunk outlives it in a suspended frame.
 */
async function rounds(table: KernelFlowTable): Promise<Set<number>> {
  const before = guardedRegions();
  const regions = new Set<number>();
  const kept: KeptChunk[] = [];
  for (let round = 0; round < 4; round++) {
    // More flows than two chunks hold, of both families and many address pairs: a chunk per
    // group of pairs, groups of any length, so chunks share the pages at their ends.
    spread('127.0.0.1,127.0.0.2,127.0.0.3', '127.0.1.1,127.0.1.2,127.0.1.3,127.0.1.4,127.0.1.5,127.0.1.6,127.0.1.7', 10_000, 1_700);
    spread('::1', '::1', 10_000, 3_000);
    const drain = await drainKeepingEveryOther(table, round, regions, before);
    kept.push(...drain.kept);
    await collectUntil(`the finalizers of round ${round}'s dropped chunks`, () => external() <= drain.external - drain.dropped);
    for (const [i, { chunk, copy }] of kept.entries()) assert.ok(copy.equals(chunk), `round ${round}: kept chunk ${i} changed after its neighbours were collected`);
  }
  // The records themselves: no zeroed record (a page given back too early reads as zeros).
  for (const { chunk } of kept) {
    for (let off = 0; off < chunk.byteLength; off += RECORD_SIZE) assert.notEqual(chunk[off + 36], 0, 'every record has its family');
  }
  return regions;
}

test('kept chunks keep their records while the rest of their region is given back and later drains come and go; the region has guards', async (t) => {
  if (!requirePrivileges(t)) return;
  const table = KernelFlowTable.open({ kind: 'netfilter', maxFlows: 65536 });
  try {
    table.attachNetfilter('ipv4', netns.path);
    table.attachNetfilter('ipv6', netns.path);
    const regions = await rounds(table);
    // Every region unmapped, guards included, once its last chunk is collected.
    await collectUntil('every region unmapped', () => {
      const now = guardedRegions();
      return [...regions].every((start) => !now.has(start));
    });
  } finally {
    table.close();
  }
});
