/**
 * The kubelet's cgroup layout: which pod a cgroup belongs to, from its path.
 *
 * - systemd driver: /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope
 *   (Guaranteed pods: /kubepods.slice/kubepods-pod<uid>.slice/...; kubelets with a
 *   --cgroup-root prefix their slices, e.g. kubelet-kubepods-besteffort-pod<uid>.slice)
 * - cgroupfs driver: /kubepods/besteffort/pod<uid>/<container id> (Guaranteed: /kubepods/pod<uid>/...)
 *
 * A container's cgroup is a child of its pod's, so the pod is the deepest
 * path segment that names one.
 */

/** `pod<uid>` with `-` (cgroupfs) or `_` (systemd, where `-` separates slice names) between the UID's groups. */
const POD_SEGMENT = /^(?:[a-z0-9]+-)*pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;

/** The pod UID a cgroup path names, or undefined for a cgroup outside any pod. */
export function podUidOf(cgroupPath: string): string | undefined {
  const segments = cgroupPath.split('/');
  for (let i = segments.length - 1; i >= 0; i--) {
    const m = POD_SEGMENT.exec(segments[i]!);
    if (m) return m[1]!.replaceAll('_', '-');
  }
  return undefined;
}
