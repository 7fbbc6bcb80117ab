/**
 * Names the sending pods of one decoded chunk (native/decode.ts): the decoder
 * made a source end per distinct (address, sending cgroup); this gives each
 * the UID of its cgroup's pod and leaves one end per distinct (address, pod
 * UID), so the containers of one pod, or the sockets of a pod and of the node
 * outside pods, do not split one source into several ends downstream.
 */
import type { FlowEndpoint } from '../../pipeline/flow.ts';
import type { DecodedChunk } from '../../native/index.ts';

/** Cgroup id -> pod UID (pods.ts CgroupPods). */
export interface PodsByCgroup {
  podUid(cgroupId: number): string | undefined;
}

/**
 * Replaces the chunk's source ends with ends carrying `podUid`, merges ends
 * that end up alike, and renumbers the rows. Uses up `endCgroups` (the end
 * numbers it was by are gone): the chunk has none afterwards.
 */
export function namePodSources(chunk: DecodedChunk, pods: PodsByCgroup): void {
  const { columns, endCgroups } = chunk;
  if (endCgroups === undefined) return;
  delete chunk.endCgroups;
  const ends = columns.ends;
  // Old end number -> new one; ends alike are kept once, in first-seen order.
  const renumber = new Uint32Array(ends.length);
  const kept: FlowEndpoint[] = [];
  const byKey = new Map<string, number>();
  ends.forEach((end, e) => {
    const cgroupId = endCgroups[e]!;
    const podUid = cgroupId === 0 ? undefined : pods.podUid(cgroupId);
    // An address and a UID never hold '\n'.
    const key = podUid === undefined ? end.address : `${end.address}\n${podUid}`;
    let n = byKey.get(key);
    if (n === undefined) {
      n = kept.push(podUid === undefined ? end : Object.freeze({ address: end.address, port: 0, podUid })) - 1;
      byKey.set(key, n);
    }
    renumber[e] = n;
  });
  if (kept.length === ends.length) {
    // Nothing merged: the ends keep their numbers.
    for (let e = 0; e < ends.length; e++) ends[e] = kept[e]!;
    return;
  }
  columns.ends = kept;
  for (let i = 0; i < columns.length; i++) {
    columns.src[i] = renumber[columns.src[i]!]!;
    columns.dst[i] = renumber[columns.dst[i]!]!;
  }
}
