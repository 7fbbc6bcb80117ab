/** Config of the `otlp` receiver (the gateway's OTLP metrics endpoint: gRPC and/or HTTP). */
import { z } from 'zod';
import { duration, endpoint, existingFile } from '../../pipeline/schema.ts';

/** Agents must send `authorization: Bearer <token>`, the token being this file's content. */
const authSchema = z.strictObject({ bearer_token_file: existingFile() });

const tlsSchema = z
  .strictObject({
    cert_file: existingFile(),
    key_file: existingFile(),
    /** When set, agents must present a client certificate signed by this CA (mutual TLS). */
    client_ca_file: existingFile().optional(),
  });

/** As the OpenTelemetry Collector's `keepalive.server_parameters`. */
const serverParametersSchema = z.strictObject({
  /** A connection with no request in flight for this long is closed (idle agents, and connections that never send one). */
  max_connection_idle: duration().prefault('2m'),
  /** A connection is asked to go (GOAWAY) after this long; the agent reconnects, through the Service, to a gateway of its zone again. */
  max_connection_age: duration().prefault('30m'),
  /** How long requests in flight on a connection past its age may take before it is cut. */
  max_connection_age_grace: duration().prefault('30s'),
});

const grpcSchema = z.strictObject({
  endpoint: endpoint().default('127.0.0.1:4317'),
  /** Requests larger than this (after decompression) are refused with RESOURCE_EXHAUSTED. */
  max_recv_msg_size_mib: z.number().positive().max(1024).default(4),
  /** Open connections at most; further ones are closed at once and counted (an agent holds one). */
  max_connections: z.number().int().positive().default(4096),
  /** Requests in flight on one connection at most (an agent sends one at a time). */
  max_concurrent_streams: z.number().int().positive().default(16),
  keepalive: z.strictObject({ server_parameters: serverParametersSchema.prefault({}) }).prefault({}),
  tls: tlsSchema.optional(),
  auth: authSchema.optional(),
});

/**
 * As the Collector's `protocols.http` (confighttp): POST /v1/metrics with
 * protobuf or JSON, gzip or not. The same bounds as gRPC, in HTTP/1.1's terms:
 * one request at a time on a connection, so `max_connections` also bounds the
 * requests in flight.
 */
const httpSchema = z.strictObject({
  endpoint: endpoint().default('127.0.0.1:4318'),
  /** Path of the metrics export (the OTLP/HTTP default). */
  metrics_url_path: z.string().regex(/^\/[^\s?#]*$/, 'expected a path like /v1/metrics').default('/v1/metrics'),
  /** Requests with a larger body, before or after decompression, are refused with 413. As the Collector, in bytes. */
  max_request_body_size: z.number().int().positive().max(1024 * 1024 * 1024).default(4 * 1024 * 1024),
  /** Open connections at most; further ones are closed at once and counted. */
  max_connections: z.number().int().positive().default(4096),
  /**
   * Requests being read or applied at once, over all connections; further ones get 429 with
   * Retry-After before their body is read. With max_request_body_size, bounds the memory of requests in flight.
   */
  max_concurrent_requests: z.number().int().positive().default(64),
  /** A connection with no request (or no byte at all) for this long is closed. */
  idle_timeout: duration().prefault('2m'),
  /** A request (headers and body) must have arrived within this long, or its connection is closed: slow senders cannot hold one. */
  read_timeout: duration().prefault('1m'),
  /** Past this age a connection is closed after its next answer (`Connection: close`): agents reconnect through the Service, to their zone's gateway. */
  max_connection_age: duration().prefault('30m'),
  tls: tlsSchema.optional(),
  /** Unset: the grpc protocol's, when it has one (the same agents, the same token). */
  auth: authSchema.optional(),
});

/** As the OpenTelemetry SDKs' attribute limits; a point (or resource) beyond them is refused and counted. */
const attributeLimitsSchema = z.strictObject({
  /** Longest attribute value (and key), in characters. Kubernetes names are at most 253. */
  attribute_value_length_limit: z.number().int().positive().default(256),
  /**
   * Most attributes on one data point, or on one resource: zonetap sends at
   * most 28, plus two per label k8sattributes copies (pod_labels and
   * namespace_labels, at most 16 together: 60).
   */
  attribute_count_limit: z.number().int().positive().default(64),
});

export const otlpReceiverConfigSchema = z.strictObject({
  /**
   * As in the Collector, the protocols listed are served; with none listed,
   * gRPC on its default endpoint (so `otlp: {}` stays a gRPC receiver).
   */
  protocols: z
    .strictObject({ grpc: grpcSchema.optional(), http: httpSchema.optional() })
    .prefault({})
    .transform((p) => {
      if (p.grpc === undefined && p.http === undefined) return { grpc: grpcSchema.parse({}) };
      // One gateway, one token: HTTP without auth of its own takes gRPC's, so opening 4318 never opens an unauthenticated door.
      if (p.http && !p.http.auth && p.grpc?.auth) return { ...p, http: { ...p.http, auth: p.grpc.auth } };
      return p;
    }),
  /** A stream (agent x metric x attribute set) its agent has not sent for this long (counted from the agent's last request) is forgotten. */
  stream_ttl: duration().prefault('15m'),
  /** An agent not heard from for this long is forgotten with all its streams; it must outlast any network partition. */
  agent_ttl: duration().prefault('24h'),
  /** At most this many attribute sets are tracked over all agents; points of further ones are refused and counted. */
  max_streams: z.number().int().positive().default(1_000_000),
  /** The streams' memory at most, in MiB (README "Memory": bytes per stream); points of further streams are refused and counted. */
  max_streams_memory_mib: z.number().positive().default(256),
  attribute_limits: attributeLimitsSchema.prefault({}),
  /** Points timestamped further ahead of the gateway's clock are invalid (they would freeze their stream). */
  max_clock_skew: duration().prefault('10m'),
});

export type OtlpReceiverConfig = z.infer<typeof otlpReceiverConfigSchema>;
export type GrpcProtocolConfig = z.infer<typeof grpcSchema>;
export type HttpProtocolConfig = z.infer<typeof httpSchema>;
