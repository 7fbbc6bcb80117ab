export { FakeKubeApiServer } from './server.ts';
export type { FakeKubeApiServerOptions, RequestRecord } from './server.ts';
export { ObjectStore, RESOURCES } from './store.ts';
export type { ResourceType, StoredEvent, WatchEventType } from './store.ts';
export type { KubeObject } from './selectors.ts';
export { makeNode, makePod, makeReplicaSet, makeJob } from './objects.ts';
export type { PodSpec, NodeSpec } from './objects.ts';
