/** Config of the `otlp` exporter: where and how to send flow counts. */
import { z } from 'zod';
import { duration, endpoint, existingFile } from '../../pipeline/schema.ts';

export const PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Default endpoints, the OTLP ports: 4317 for gRPC, 4318 for HTTP. */
const DEFAULT_ENDPOINT = { grpc: '127.0.0.1:4317', http: '127.0.0.1:4318' } as const;

/** A URL endpoint (OTLP/HTTP only): http:// or https://, with an optional base path. */
export function isUrlEndpoint(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

/** `host:port` (normalized as every endpoint), or an http(s):// URL for the HTTP protocols (checked against `protocol` below). */
const endpointOrUrl = () =>
  z.string({ error: 'expected an endpoint like 127.0.0.1:4317' }).transform((text, ctx) => {
    if (!isUrlEndpoint(text)) {
      const parsed = endpoint().safeParse(text);
      if (parsed.success) return parsed.data;
      ctx.addIssue({ code: 'custom', message: `invalid endpoint "${text}": expected host:port, like 127.0.0.1:4317 or [::1]:4317 (with protocol http/protobuf or http/json, also a URL like https://gateway:4318)` });
      return z.NEVER;
    }
    try {
      const url = new URL(text);
      if (url.search || url.hash || url.username || url.password) throw new Error('no query, fragment or credentials');
      return url.href.replace(/\/$/, '');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `invalid endpoint URL "${text}": ${(err as Error).message}` });
      return z.NEVER;
    }
  });

const tlsSchema = z.strictObject({
  /** Plain-text gRPC (no TLS). As in the Collector, the default is TLS. */
  insecure: z.boolean().default(false),
  /** CA bundle that signs the gateway's certificate (default: the system roots). */
  ca_file: existingFile().optional(),
  /** Client certificate and key, for gateways that require mutual TLS. */
  cert_file: existingFile().optional(),
  key_file: existingFile().optional(),
});

const retrySchema = z.strictObject({
  /** First wait after a failed export; doubled after each failure (with jitter). */
  initial_interval: duration().prefault('1s'),
  /** Longest wait between attempts while the gateway is down. */
  max_interval: duration().prefault('30s'),
});

export const otlpExporterConfigSchema = z
  .strictObject({
    /**
     * `grpc` (OTLP/gRPC, the default), `http/protobuf` or `http/json`
     * (OTLP/HTTP, POST {endpoint}/v1/metrics), as OTEL_EXPORTER_OTLP_PROTOCOL names them.
     */
    protocol: z.enum(PROTOCOLS, { error: 'expected grpc, http/protobuf or http/json' }).default('grpc'),
    /**
     * Gateway (or any OTLP backend) as host:port (default 127.0.0.1:4317 for
     * gRPC, 127.0.0.1:4318 for HTTP). For HTTP also a base URL
     * (`https://otlp.example.com/otlp`), to which /v1/metrics is appended.
     */
    endpoint: endpointOrUrl().optional(),
    tls: tlsSchema.prefault({}),
    /** Extra gRPC metadata or HTTP headers sent with every export, e.g. {authorization: "Bearer ..."}. */
    headers: z.record(z.string(), z.string()).default({}),
    compression: z.enum(['gzip', 'none'], { error: 'expected gzip or none' }).default('gzip'),
    /** How often the current totals are exported. */
    interval: duration().prefault('10s'),
    /**
     * `cumulative`: every series' totals since it started, for any OTLP
     * backend. `delta`: what was counted since the last acknowledged export,
     * re-sent in an open window until acknowledged; for zonetap gateways only
     * (they apply each byte once across restarts and failovers; another
     * backend would count a re-sent window twice).
     */
    temporality: z.enum(['cumulative', 'delta'], { error: 'expected cumulative or delta' }).default('cumulative'),
    /** Deadline of one export call. */
    timeout: duration().prefault('10s'),
    retry_on_failure: retrySchema.prefault({}),
    /** A series whose flows stopped this long ago (and whose total was delivered) is forgotten. */
    series_ttl: duration().prefault('15m'),
    /** At most this many series are kept; further attribute sets are folded into one overflow series. */
    max_series: z.number().int().positive().default(100_000),
    /**
     * At most this many series per export request (each series is 2-3 data
     * points of ~600 bytes): 1000 keeps requests under 2 MiB, well within
     * the receiver's default 4 MiB limit (which applies after decompression).
     */
    max_series_per_request: z.number().int().positive().default(1_000),
  })
  .superRefine((c, ctx) => {
    if ((c.tls.cert_file === undefined) !== (c.tls.key_file === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls', c.tls.cert_file === undefined ? 'cert_file' : 'key_file'], message: 'cert_file and key_file must be given together' });
    }
    if (c.tls.insecure && (c.tls.ca_file || c.tls.cert_file)) {
      ctx.addIssue({ code: 'custom', path: ['tls', 'insecure'], message: 'insecure: true cannot be combined with ca_file, cert_file or key_file' });
    }
    if (c.retry_on_failure.max_interval < c.retry_on_failure.initial_interval) {
      ctx.addIssue({ code: 'custom', path: ['retry_on_failure', 'max_interval'], message: 'max_interval must not be shorter than initial_interval' });
    }
    if (c.endpoint !== undefined && isUrlEndpoint(c.endpoint)) {
      if (c.protocol === 'grpc') {
        ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'a URL endpoint is for protocol http/protobuf or http/json; for grpc give host:port' });
      } else if (c.endpoint.startsWith('http:') && (c.tls.ca_file || c.tls.cert_file)) {
        ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'an http:// endpoint is plain text: use https:// with tls.ca_file, cert_file or key_file' });
      } else if (c.endpoint.startsWith('https:') && c.tls.insecure) {
        ctx.addIssue({ code: 'custom', path: ['tls', 'insecure'], message: 'insecure: true with an https:// endpoint: use http:// for plain text' });
      }
    }
  })
  .transform((c) => ({ ...c, endpoint: c.endpoint ?? DEFAULT_ENDPOINT[c.protocol === 'grpc' ? 'grpc' : 'http'] }));

export type OtlpExporterConfig = z.infer<typeof otlpExporterConfigSchema>;
