/**
 * /metrics against idle, slow and too many clients: every such connection is
 * closed by the server, and the connection cap holds. Timeouts are shortened
 * for the test (the defaults are in server.ts); the mechanism is the same.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { testSettings } from '../../test/support/components.ts';
import { eventually } from '../../test/support/poll.ts';
import { configSchema, PrometheusFlowExporter } from './index.ts';
import { flow, pod } from '../../test/support/flow-records.ts';

const running: PrometheusFlowExporter[] = [];
after(async () => {
  for (const e of running) await e.shutdown();
});

async function exporter(limits: ConstructorParameters<typeof PrometheusFlowExporter>[2] = {}, maxConnections = 1) {
  const e = new PrometheusFlowExporter(
    testSettings('prometheus', 'exporter'),
    configSchema.parse({ endpoint: '127.0.0.1:0', max_connections: maxConnections }),
    { ...limits, serverLimits: { headersTimeoutMs: 500, requestTimeoutMs: 500, keepAliveTimeoutMs: 300, idleTimeoutMs: 2000, responseTimeoutMs: 60_000, checkIntervalMs: 100, ...limits.serverLimits } },
  );
  running.push(e);
  await e.start();
  const [host, port] = e.address!.split(':') as [string, string];
  return { e, host, port: Number(port) };
}

/**
 * A raw TCP client that records what it receives and when it was closed.
 * `sip`: instead of reading all that comes, read 1 KiB every 20 ms (the
 * stream holds no more than its high-water mark, so the rest waits in the
 * socket buffers and the server can only send as fast as this).
 */
function client(host: string, port: number, sip = false) {
  const socket = connect(port, host);
  const state = { received: 0, text: '', closed: false, socket };
  const take = (d: Buffer) => {
    state.received += d.length;
    if (state.text.length < 200) state.text += d.toString('latin1');
  };
  if (sip) {
    const timer = setInterval(() => {
      const d = socket.read(1024) as Buffer | null;
      if (d) take(d);
    }, 20);
    socket.on('close', () => clearInterval(timer));
  } else {
    socket.on('data', take);
  }
  socket.on('error', () => {});
  socket.on('close', () => (state.closed = true));
  return state;
}
const connected = (socket: Socket) => new Promise<void>((resolve) => socket.once('connect', () => resolve()));
const scrapeStatus = async (host: string, port: number) => (await fetch(`http://${host}:${port}/metrics`)).status;

test('a connection that never sends a request is closed, and while it is open the connection cap turns others away', async () => {
  const { host, port } = await exporter();
  const silent = client(host, port);
  await connected(silent.socket);
  await assert.rejects(fetch(`http://${host}:${port}/metrics`), /fetch failed/, 'max_connections: 1 is taken by the silent client');
  await eventually(() => assert.equal(silent.closed, true));
  assert.ok(silent.received === 0 || /^HTTP\/1\.1 408 /.test(silent.text), `closed without an answer or with 408, got ${JSON.stringify(silent.text)}`);
  assert.equal(await eventually(() => scrapeStatus(host, port)), 200, 'the slot is free again');
});

test('a client trickling its headers is answered 408 and closed', async () => {
  const { host, port } = await exporter();
  const slow = client(host, port);
  await connected(slow.socket);
  slow.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
  // One header byte every 50 ms: never idle, never done.
  const trickle = setInterval(() => !slow.closed && slow.socket.write('X'), 50);
  try {
    await eventually(() => assert.equal(slow.closed, true));
  } finally {
    clearInterval(trickle);
  }
  assert.match(slow.text, /^HTTP\/1\.1 408 /);
});

test('a client reading its response a little at a time is cut off at the response deadline', async () => {
  // A still clock: the exposition rendered first is served to the slow reader at once.
  // A long idle timeout: only the response deadline can cut a reader that keeps reading.
  const { e, host, port } = await exporter({ now: () => 1_000_000, serverLimits: { responseTimeoutMs: 1500, idleTimeoutMs: 60_000 } });
  // About 26 MB of exposition: far more than the loopback socket buffers hold.
  const db = pod('db', 'pg-0', 'pg', 'node-b', 'zone-b');
  await e.consume({ start: 0, end: 1, records: Array.from({ length: 20_000 }, (_, i) => flow(pod('shop', `api-${i}`, 'api', 'node-a', 'zone-a'), db, 1, 1, 'cross_zone', 0.5)) });
  const first = client(host, port);
  first.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await eventually(() => assert.equal(first.closed, true));
  const length = Number(/content-length: (\d+)/i.exec(first.text)?.[1]);
  assert.ok(length > 20_000_000, `a ${length}-byte exposition`);

  const reader = client(host, port, true);
  try {
    await connected(reader.socket);
    reader.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => assert.match(reader.text, /^HTTP\/1\.1 200 /));
    // max_connections: 1 is the reader's until the server lets go of it.
    assert.equal(await eventually(() => scrapeStatus(host, port)), 200);
    assert.ok(reader.received < length, `the server let go after the reader took ${reader.received} of ${length} bytes`);
  } finally {
    reader.socket.destroy();
  }
});

test('an idle kept-alive connection is closed after keepAliveTimeout', async () => {
  const { host, port } = await exporter();
  const kept = client(host, port);
  await connected(kept.socket);
  kept.socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
  await eventually(() => assert.match(kept.text, /^HTTP\/1\.1 200 /));
  await eventually(() => assert.equal(kept.closed, true));
  assert.match(kept.text, /keep-alive/i, 'the connection was kept alive after the response');
});
