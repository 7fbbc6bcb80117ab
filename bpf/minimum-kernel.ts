/**
 * The oldest kernel each receiver's eBPF programs load on: a property of the
 * programs in this folder, checked against what they use at build time
 * (reach/check.ts) and against the running kernel at start-up
 * (native/kernel.ts requireKernel).
 */
export const MINIMUM_KERNEL = { netfilter: [6, 4], cgroup: [5, 8] } as const satisfies Record<string, readonly [number, number]>;
