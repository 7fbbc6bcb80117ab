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

const grpcSchema = z.strictObject({
  endpoint: endpoint().default('127.0.0.1:4317'),
  /** Requests larger than this (after decompression) are refused with RESOURCE_EXHAUSTED. */
  max_recv_msg_size_mib: z.number().positive().max(1024).default(4),
  tls: tlsSchema.optional(),
  /** Agents must send `authorization: Bearer <token>`, the token being this file's content. */
  auth: z.strictObject({ bearer_token_file: existingFile() }).optional(),
});

export const otlpReceiverConfigSchema = z.strictObject({
  protocols: z.strictObject({ grpc: grpcSchema.prefault({}) }).prefault({}),
  /** A stream (agent x metric x attribute set) its agent has not sent for this long (counted from the agent's last request) is forgotten. */
  stream_ttl: duration().prefault('15m'),
  /** An agent not heard from for this long is forgotten with all its streams; it must outlast any network partition. */
  agent_ttl: duration().prefault('24h'),
  /** At most this many attribute sets are tracked over all agents; points of further ones are refused and counted. */
  max_streams: z.number().int().positive().default(1_000_000),
});

export type OtlpReceiverConfig = z.infer<typeof otlpReceiverConfigSchema>;
