/** sim/: a Kubernetes-shaped cluster in network namespaces, for the demo, integration tests and benchmarks. */
export { Cluster } from './cluster.ts';
export { loadTopology, parseTopology, planCluster, prefixOf, INTERNET_CIDRS, UNDERLAY_GATEWAY, POD_GATEWAY } from './topology.ts';
export type { Topology, PodSpec, Plan, PlannedNode, PlannedPod } from './topology.ts';
export { inventoryOf, writeInventory } from './inventory.ts';
export type { Inventory } from './inventory.ts';
export { PodProcess, execInNetns, inCgroup, udpIpBytes } from './traffic.ts';
export { cgroupMount, containerCgroupPath, podCgroupPath, removeCgroupTree, uidOf, type CgroupDriver, type QosClass } from './cgroups.ts';
export type { PodProgram, Send, SendResult, Received } from './traffic.ts';
export { listNetns, removeNamespaces } from './netns.ts';
export { deployZonetap, endDeployedProcesses } from './deployment.ts';
export type { Deployment, DeploymentOptions } from './deployment.ts';
export { parseExposition, scrape, sumOf } from './exposition.ts';
export type { Sample } from './exposition.ts';
