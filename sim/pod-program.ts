/**
 * The program a simulated pod runs (started by sim/traffic.ts inside the pod's
 * network namespace): servers that discard (or answer) what they get, and
 * senders with known byte counts, bounded rate and duration.
 *
 * Usage: node sim/pod-program.ts '<PodProgram as JSON>'
 * Writes JSON lines to stdout: {"event":"listening"} once every server is bound,
 * {"event":"sent",...} per finished send, {"event":"done"} after the last one, and
 * on SIGTERM {"event":"received",...} before exiting.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, isIPv6, type Server } from 'node:net';
import type { PodProgram, SendResult, Send } from './traffic.ts';

const TICK_MS = 50;

function emit(event: object): void {
  process.stdout.write(JSON.stringify(event) + '\n');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const received = { udpBytes: 0, udpDatagrams: 0, tcpBytes: 0 };

async function serveUdp(port: number): Promise<UdpSocket> {
  const socket = createSocket({ type: 'udp6', ipv6Only: false });
  socket.on('message', (msg) => {
    received.udpBytes += msg.length;
    received.udpDatagrams += 1;
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '::', () => resolve());
  });
  return socket;
}

/** Answers `replyFactor` bytes for every byte received (a database returning rows). */
async function serveTcp(port: number, replyFactor: number): Promise<Server> {
  const server = createServer((conn) => {
    conn.on('data', (chunk) => {
      received.tcpBytes += chunk.length;
      if (replyFactor > 0) conn.write(Buffer.alloc(Math.round(chunk.length * replyFactor)));
    });
    conn.on('error', () => conn.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '::', ipv6Only: false }, () => resolve());
  });
  return server;
}

/** How many messages are due after `elapsedMs` at `rate` payload bytes/s. */
function due(send: Send, elapsedMs: number): number {
  const byRate = Math.floor(((elapsedMs / 1000) * send.rate) / send.size) + 1;
  return Math.min(byRate, send.count ?? Infinity);
}

async function sendUdp(send: Send, index: number, stop: AbortSignal): Promise<SendResult> {
  const socket = createSocket(isIPv6(send.to) ? 'udp6' : 'udp4');
  const payload = Buffer.alloc(send.size, 0x5a);
  let messages = 0;
  const started = Date.now();
  const ends = started + (send.durationMs ?? Infinity);
  while (!stop.aborted && messages < (send.count ?? Infinity) && Date.now() < ends) {
    const target = due(send, Date.now() - started);
    while (messages < target) {
      await new Promise<void>((resolve, reject) => socket.send(payload, send.port, send.to, (err) => (err ? reject(err) : resolve())));
      messages += 1;
    }
    if (messages < (send.count ?? Infinity)) await sleep(TICK_MS);
  }
  socket.close();
  return { index, messages, payloadBytes: messages * send.size };
}

async function sendTcp(send: Send, index: number, stop: AbortSignal): Promise<SendResult> {
  const conn = connect({ host: send.to, port: send.port });
  await new Promise<void>((resolve, reject) => {
    conn.once('connect', resolve);
    conn.once('error', reject);
  });
  conn.on('data', () => {}); // answers are read and discarded
  const payload = Buffer.alloc(send.size, 0x5a);
  let messages = 0;
  const started = Date.now();
  const ends = started + (send.durationMs ?? Infinity);
  while (!stop.aborted && messages < (send.count ?? Infinity) && Date.now() < ends) {
    const target = due(send, Date.now() - started);
    while (messages < target) {
      if (!conn.write(payload)) await new Promise((resolve) => conn.once('drain', resolve));
      messages += 1;
    }
    if (messages < (send.count ?? Infinity)) await sleep(TICK_MS);
  }
  await new Promise<void>((resolve) => conn.end(resolve));
  await sleep(100); // let the last answers arrive
  conn.destroy();
  return { index, messages, payloadBytes: messages * send.size };
}

async function main(): Promise<void> {
  const program = JSON.parse(process.argv[2] ?? '{}') as PodProgram;
  const stop = new AbortController();
  const closers: Array<() => void> = [];
  process.on('SIGTERM', () => {
    stop.abort();
    for (const close of closers) close();
    emit({ event: 'received', ...received });
    process.exit(0);
  });
  if (program.udpPort !== undefined) {
    const s = await serveUdp(program.udpPort);
    closers.push(() => s.close());
  }
  if (program.tcpPort !== undefined) {
    const s = await serveTcp(program.tcpPort, program.tcpReplyFactor ?? 0);
    closers.push(() => s.close());
  }
  emit({ event: 'listening' });
  if (program.startAfterMs) await sleep(program.startAfterMs);
  const results = await Promise.all(
    (program.sends ?? []).map(async (send, index) => {
      const result = await (send.transport === 'udp' ? sendUdp(send, index, stop.signal) : sendTcp(send, index, stop.signal));
      emit({ event: 'sent', ...result });
      return result;
    }),
  );
  emit({ event: 'done', sends: results.length });
  // Servers keep serving until SIGTERM; a pure client exits.
  if (program.udpPort === undefined && program.tcpPort === undefined) process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`pod program failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
