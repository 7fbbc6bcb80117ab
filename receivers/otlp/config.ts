/** Config of the `otlp` receiver (the gateway's OTLP/gRPC metrics endpoint). */
import { z } from 'zod';
import { duration, endpoint, existingFile } from '../../pipeline/schema.ts';

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
  /** Agents must send `authorization: Bearer <token>`, the token being this file's content. */
  auth: z.strictObject({ bearer_token_file: existingFile() }).optional(),
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
  protocols: z.strictObject({ grpc: grpcSchema.prefault({}) }).prefault({}),
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
