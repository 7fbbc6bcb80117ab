export { FakeKubeApiServer } from './server.ts';
export type { FakeKubeApiServerOptions, RequestRecord } from './server.ts';
export { ObjectStore, RESOURCES } from './store.ts';
export type { ResourceType, StoredEvent, WatchEventType } from './store.ts';
export type { KubeObject } from './selectors.ts';
export { makeEndpointSlice, makeJob, makeNamespace, makeNode, makePod, makeReplicaSet, makeService } from './objects.ts';
export type { EndpointSliceSpec, NamespaceSpec, NodeSpec, PodSpec, ServiceSpec } from './objects.ts';
