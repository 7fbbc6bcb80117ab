/**
 * The official OTLP metric exporter for the configured protocol: gRPC
 * (`@opentelemetry/exporter-metrics-otlp-grpc`), HTTP with protobuf
 * (`-proto`) or HTTP with JSON (`-http`). zonetap only hands each its
 * ResourceMetrics and reads the result: whatever the transport, a success
 * is the backend's acknowledgement (a partial success included, which the
 * official exporters log), so delta windows close on the same event.
 *
 * gRPC and HTTP with protobuf are the official exporters' own parts (export
 * delegate, transport, retries, compression) as their OTLPMetricExporter
 * classes put them together, with one part replaced: the serializer is
 * encoding.ts's, which writes the same bytes but encodes each series'
 * attributes once rather than in every export.
 *
 * Each exporter is loaded when a config asks for it: an agent on OTLP/HTTP
 * never loads the gRPC stack.
 */
import { readFileSync } from 'node:fs';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import type { OTLPMetricExporter as ProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { isUrlEndpoint, type OtlpExporterConfig } from './config.ts';
import { FlowMetricsSerializer } from './encoding.ts';

type GrpcOptions = NonNullable<ConstructorParameters<typeof GrpcMetricExporter>[0]>;
type HttpOptions = NonNullable<ConstructorParameters<typeof ProtobufMetricExporter>[0]>;

/** Idle time before the kernel probes the OTLP/HTTP connection (TCP keep-alive). */
const TCP_KEEPALIVE_MS = 30_000;

/** The OTLP/gRPC method the official metrics exporter calls. */
const GRPC_EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

/** The OTLP/HTTP metrics path, appended to the endpoint as the Collector's otlphttp exporter does. */
export const HTTP_METRICS_PATH = '/v1/metrics';

/** gRPC channel credentials for the exporter's `tls` options. */
async function channelCredentials(tls: OtlpExporterConfig['tls']): Promise<ChannelCredentials> {
  const { credentials } = await import('@grpc/grpc-js');
  if (tls.insecure) return credentials.createInsecure();
  const read = (path: string | undefined) => (path === undefined ? null : readFileSync(path));
  return credentials.createSsl(read(tls.ca_file), read(tls.key_file), read(tls.cert_file));
}

/** Where OTLP/HTTP exports go: a URL endpoint plus /v1/metrics, or host:port with the scheme `tls.insecure` says. */
export function httpMetricsUrl(config: Pick<OtlpExporterConfig, 'endpoint' | 'tls'>): string {
  const base = isUrlEndpoint(config.endpoint) ? config.endpoint : `${config.tls.insecure ? 'http' : 'https'}://${config.endpoint}`;
  return `${base}${HTTP_METRICS_PATH}`;
}

/** The official exporter for `config.protocol`, built from the exporter's options. */
export async function createMetricExporter(c: OtlpExporterConfig): Promise<PushMetricExporter> {
  // The exporters' CompressionAlgorithm enum has exactly these string values.
  const compression = c.compression as GrpcOptions['compression'] & HttpOptions['compression'];
  if (c.protocol === 'grpc') {
    const [{ Metadata }, { OTLPMetricExporterBase }, grpc, { MetricsExporterMetricsHelper }] = await Promise.all([
      import('@grpc/grpc-js'),
      import('@opentelemetry/exporter-metrics-otlp-http'),
      import('@opentelemetry/otlp-grpc-exporter-base'),
      import('@opentelemetry/otlp-transformer'),
    ]);
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(c.headers)) metadata.set(k.toLowerCase(), v);
    const options: GrpcOptions = { url: c.endpoint, credentials: await channelCredentials(c.tls), metadata, compression, timeoutMillis: c.timeout };
    // What @opentelemetry/exporter-metrics-otlp-grpc's OTLPMetricExporter constructor does, with our serializer.
    const delegate = grpc.createOtlpGrpcExportDelegate(grpc.convertLegacyOtlpGrpcOptions(options, 'METRICS'), new FlowMetricsSerializer(), 'otlp_grpc_metric_exporter', MetricsExporterMetricsHelper, undefined, 'MetricsExportService', GRPC_EXPORT_PATH);
    return new OTLPMetricExporterBase(delegate, options);
  }
  const url = httpMetricsUrl(c);
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  const options: HttpOptions = {
    url,
    headers: { ...c.headers },
    compression,
    timeoutMillis: c.timeout,
    // One kept-alive connection is all an agent needs (one export at a time); TLS files as for gRPC.
    // TCP keep-alive probes after 30 s idle, as Go's net/http (the Collector's otlphttp exporter)
    // sends them, not Node's 1 s: between exports every `interval` (10 s) the connection idles,
    // and 1 s probes were a packet and an answer each second from every agent to its gateway.
    httpAgentOptions: { keepAlive: true, keepAliveMsecs: TCP_KEEPALIVE_MS, ...(url.startsWith('https:') ? { ca: read(c.tls.ca_file), cert: read(c.tls.cert_file), key: read(c.tls.key_file) } : {}) },
  };
  if (c.protocol === 'http/protobuf') {
    const [{ OTLPMetricExporterBase }, http, { MetricsExporterMetricsHelper }] = await Promise.all([
      import('@opentelemetry/exporter-metrics-otlp-http'),
      import('@opentelemetry/otlp-exporter-base/node-http'),
      import('@opentelemetry/otlp-transformer'),
    ]);
    // What @opentelemetry/exporter-metrics-otlp-proto's OTLPMetricExporter constructor does, with our serializer.
    const settings = http.convertLegacyHttpOptions(options, 'METRICS', 'v1/metrics', { 'Content-Type': 'application/x-protobuf' });
    return new OTLPMetricExporterBase(http.createOtlpHttpExportDelegate(settings, new FlowMetricsSerializer(), 'otlp_http_metric_exporter', MetricsExporterMetricsHelper, undefined), options);
  }
  return new (await import('@opentelemetry/exporter-metrics-otlp-http')).OTLPMetricExporter(options);
}
