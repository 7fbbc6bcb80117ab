/** Config of the `otlp` exporter: where and how to send flow counts. */
import { z } from 'zod';
import { duration, endpoint, existingFile } from '../../pipeline/schema.ts';

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
    /** Gateway (or any OTLP/gRPC backend) as host:port. */
    endpoint: endpoint().default('127.0.0.1:4317'),
    tls: tlsSchema.prefault({}),
    /** Extra gRPC metadata sent with every export, e.g. {authorization: "Bearer ..."}. */
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
  });

export type OtlpExporterConfig = z.infer<typeof otlpExporterConfigSchema>;
