/**
 * Cgroup id -> pod UID for the sockets the cgroup program counted. A cgroup v2
 * id is its directory's inode number, so walking the tree under the attach
 * point and reading each directory's path through the kubelet's layout
 * (kubelet.ts) gives every pod cgroup's id. Walked at every drain, so a pod
 * whose cgroup is gone by the next drain (a short Job) is still known if it
 * lived through one; ids whose directory is gone are kept for `graceMs`.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { podUidOf } from './kubelet.ts';

/** Directories below the attach point a walk looks at, at most (a node runs at most a few hundred pods). */
const MAX_DIRECTORIES = 50_000;
/** Levels below the attach point: kubepods / QoS / pod / container, with room for a --cgroup-root prefix. */
const MAX_DEPTH = 8;

interface Known {
  podUid: string | undefined;
  seen: number;
}

export class CgroupPods {
  readonly #root: string;
  readonly #attached: string;
  readonly #graceMs: number;
  readonly #byId = new Map<number, Known>();
  #walks = 0;

  /** `root`: the cgroup v2 mount; `attached`: the directory below it the program is attached to. */
  constructor(root: string, attached: string, graceMs: number) {
    this.#root = root;
    this.#attached = attached;
    this.#graceMs = graceMs;
  }

  /** Cgroups walked since start (for tests). */
  get walks(): number {
    return this.#walks;
  }

  /** The UID of the pod whose cgroup has id `cgroupId`, if it is one (call refresh() first). */
  podUid(cgroupId: number): string | undefined {
    return this.#byId.get(cgroupId)?.podUid;
  }

  /** Walks the tree below the attach point; forgets ids gone for longer than the grace period. */
  refresh(now = Date.now()): void {
    this.#walks++;
    const stack: Array<{ dir: string; depth: number }> = [{ dir: this.#attached, depth: 0 }];
    let visited = 0;
    while (stack.length > 0 && visited < MAX_DIRECTORIES) {
      const { dir, depth } = stack.pop()!;
      let id: number;
      try {
        id = statSync(dir).ino;
      } catch {
        continue; // removed while walking
      }
      visited++;
      this.#byId.set(id, { podUid: podUidOf(`/${relative(this.#root, dir)}`), seen: now });
      if (depth >= MAX_DEPTH) continue;
      try {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory()) stack.push({ dir: join(dir, entry.name), depth: depth + 1 });
        }
      } catch {
        // removed while walking
      }
    }
    for (const [id, known] of this.#byId) if (now - known.seen > this.#graceMs) this.#byId.delete(id);
  }
}
