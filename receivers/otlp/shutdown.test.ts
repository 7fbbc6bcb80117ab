/**
 * The receiver's shutdown against requests in flight, over real gRPC and
 * HTTP on loopback. What a gateway's accounting needs (README "Accounting
 * guarantees"): once shutdown() resolves the service shuts the exporters
 * down, so no request may be applied after it, and every request answered OK
 * must have been applied before it. A request is either applied and
 * answered, or refused and not applied.
 *
 * The gRPC cases drive HTTP/2 frames by hand (node:http2) to hold a request
 * half sent across the start of the shutdown, as an agent's export in
 * flight at SIGTERM is.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as http2Connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { connect as tcpConnect, type Socket } from 'node:net';
import { contextWithTimeout } from '../../pipeline/lifecycle.ts';
import { READ_ONLY, type FlowConsumer } from '../../pipeline/component.ts';
import type { FlowBatch } from '../../pipeline/flow.ts';
import { testSettings } from '../../test/support/components.ts';
import { encodeRequest, httpExport, series } from '../../test/support/otlp.ts';
import { until } from '../../test/support/poll.ts';
import { otlpReceiverFactory, type OtlpReceiver } from './index.ts';
import { EXPORT_PATH } from './proto.ts';

/** Records each batch with whether the receiver's shutdown had resolved when it came; can hold consume() until released. */
class WatchingConsumer implements FlowConsumer {
  readonly capabilities = READ_ONLY;
  readonly consumed: { bytes: number; afterShutdown: boolean }[] = [];
  shutdownResolved = false;
  #hold: Promise<void> | undefined;
  #release: (() => void) | undefined;
  holding = 0;

  hold(): void {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#hold = promise;
    this.#release = resolve;
  }

  release(): void {
    this.#release?.();
    this.#hold = undefined;
  }

  async consume(batch: FlowBatch): Promise<void> {
    this.consumed.push({ bytes: batch.records.reduce((n, r) => n + r.bytes, 0), afterShutdown: this.shutdownResolved });
    if (!this.#hold) return;
    this.holding++;
    await this.#hold;
  }
}

const receivers: OtlpReceiver[] = [];
after(async () => {
  for (const r of receivers) await r.shutdown(contextWithTimeout(1000));
});

async function startReceiver(protocols: Record<string, unknown>): Promise<{ receiver: OtlpReceiver; sink: WatchingConsumer }> {
  const sink = new WatchingConsumer();
  const config = otlpReceiverFactory.configSchema.parse({ protocols });
  const receiver = otlpReceiverFactory.create(testSettings('otlp', 'receiver'), config, sink) as OtlpReceiver;
  receivers.push(receiver);
  await receiver.start();
  return { receiver, sink };
}

/** Starts the shutdown; `sink.shutdownResolved` turns true when it resolves. */
function shutDown(receiver: OtlpReceiver, sink: WatchingConsumer, deadlineMs = 10_000): Promise<void> {
  return receiver.shutdown(contextWithTimeout(deadlineMs)).then(() => {
    sink.shutdownResolved = true;
  });
}

/** One agent export of `bytes` (delta, its own window), framed as a gRPC message (uncompressed). */
function grpcMessage(instance: string, bytes: number): Buffer {
  const body = encodeRequest(instance, [series({ 'src.address': '10.0.0.1', 'k8s.src.namespace': 'shop' }, Date.now() - 1000, bytes, 1)], Date.now(), 'delta');
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

/** An Export call on `session` whose message is only partly written; finish() writes the rest. */
function halfSentExport(session: ClientHttp2Session, message: Buffer): { finish(): void; status: Promise<string> } {
  const stream: ClientHttp2Stream = session.request({ ':method': 'POST', ':path': EXPORT_PATH, 'content-type': 'application/grpc', te: 'trailers' });
  const status = new Promise<string>((resolve) => {
    let code = '';
    stream.on('response', (headers) => (code = String(headers['grpc-status'] ?? code)));
    stream.on('trailers', (trailers) => (code = String(trailers['grpc-status'] ?? code)));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve(code || `closed (rst ${stream.rstCode})`));
    stream.resume();
  });
  const half = Math.floor(message.length / 2);
  stream.write(message.subarray(0, half));
  return { finish: () => stream.end(message.subarray(half)), status };
}

/** An HTTP/2 connection to the receiver's gRPC port, once its handshake is done. */
async function connectGrpc(port: number): Promise<ClientHttp2Session> {
  const session = http2Connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  await new Promise((resolve) => session.once('connect', resolve));
  return session;
}

/** Resolves once the server has read everything sent on `session` so far (it reads frames in order). */
function roundTrip(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
}

describe('otlp receiver shutdown with requests in flight', () => {
  test('gRPC: a request half received when the shutdown begins is applied and answered before shutdown() resolves', async () => {
    const { receiver, sink } = await startReceiver({ grpc: { endpoint: '127.0.0.1:0' } });
    const session = await connectGrpc(receiver.port);
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    const call = halfSentExport(session, grpcMessage('agent-half', 5000));
    await roundTrip(session);

    const stopped = shutDown(receiver, sink);
    // The server says it is going (GOAWAY) at once; the request it already has must still be served.
    await goaway;
    assert.equal(sink.shutdownResolved, false, 'shutdown() resolved while a request was still arriving: the exporters would stop under it');
    call.finish();
    const status = await call.status;
    await stopped;
    session.destroy();

    assert.equal(status, '0', 'the request in flight is answered OK (grpc-status 0)');
    assert.deepEqual(sink.consumed, [{ bytes: 5000, afterShutdown: false }]);
  });

  test('gRPC: a connection that has sent nothing yet when the shutdown begins is closed, and never carries a request', async () => {
    const { receiver, sink } = await startReceiver({ grpc: { endpoint: '127.0.0.1:0' } });
    const socket: Socket = tcpConnect(receiver.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await until('the receiver to accept the connection', () => receiver.connections === 1);

    await shutDown(receiver, sink);
    await until('the receiver to close the connection', () => socket.closed, { timeoutMs: 10_000 });
    assert.equal(receiver.connections, 0);
    assert.deepEqual(sink.consumed, []);
  });

  test('gRPC: past the force point, a request being applied is waited for; none is applied after shutdown() resolves', async () => {
    const { receiver, sink } = await startReceiver({ grpc: { endpoint: '127.0.0.1:0' } });
    const session = await connectGrpc(receiver.port);
    sink.hold();
    const call = halfSentExport(session, grpcMessage('agent-held', 7000));
    call.finish();
    await until('the request to be in the pipeline', () => sink.holding === 1);

    // A short deadline: the connections are cut (force) long before the deadline.
    const stopped = shutDown(receiver, sink, 1000);
    await until('the connection to be cut', () => receiver.connections === 0);
    assert.equal(sink.shutdownResolved, false, 'shutdown() resolved while a request was being applied');
    sink.release();
    await stopped;
    await call.status;
    session.destroy();
    assert.deepEqual(sink.consumed, [{ bytes: 7000, afterShutdown: false }]);
  });

  test('HTTP: a request applied while the shutdown begins is answered; later ones are refused and change nothing', async () => {
    const { receiver, sink } = await startReceiver({ http: { endpoint: '127.0.0.1:0' } });
    sink.hold();
    const first = httpExport(receiver.httpPort, encodeRequest('agent-http', [series({ 'src.address': '10.0.0.2' }, Date.now() - 1000, 3000, 1)], Date.now(), 'delta'));
    await until('the request to be in the pipeline', () => sink.holding === 1);
    const stopped = shutDown(receiver, sink);
    const second = await httpExport(receiver.httpPort, encodeRequest('agent-http-2', [series({ 'src.address': '10.0.0.3' }, Date.now() - 1000, 4000, 1)], Date.now(), 'delta')).catch((err: Error) => ({ status: 0, error: err.message }));
    assert.notEqual(second.status, 200, 'a request that comes during the shutdown is refused');
    sink.release();
    assert.equal((await first).status, 200);
    await stopped;
    assert.deepEqual(sink.consumed, [{ bytes: 3000, afterShutdown: false }]);
  });
});
