/**
 * Known traffic for the netfilter receiver's tests and benchmark (through
 * netns.ts's NetnsPair), run inside a network namespace with `ip netns exec`.
 * Prints one JSON line describing what it did (local ports, counts) once
 * everything has been sent.
 *
 *   udp   HOST PORT SIZES COUNT          COUNT datagrams of each size (comma list) from one socket
 *   flows HOST FIRST_PORT N SIZE         one datagram to each of N destination ports (N flows)
 *   reuse HOST FIRST_DST FLOWS SRC_PORT COUNT SIZE START_MS   from a SO_REUSEPORT socket on SRC_PORT,
 *                                        COUNT rounds of one datagram to each of FLOWS ports, from START_MS
 *   spread SOURCES DESTINATIONS FIRST_PORT PORTS SIZE   from a new socket bound to each source address
 *                                        (comma list), one datagram to each port FIRST_PORT.. of each
 *                                        destination (comma list): SOURCES x DESTINATIONS x PORTS flows
 *   connections SOURCES DESTINATIONS PORT SOCKETS SIZE   like clients opening SOCKETS connections
 *                                        each (source ports 20000.. of each source address, comma list:
 *                                        distinct, where ephemeral ports could repeat once a socket is
 *                                        closed), each socket sending one datagram to PORT of every
 *                                        destination: SOURCES x SOCKETS x DESTINATIONS one-packet flows,
 *                                        many sends in flight (fast enough for 1M flows)
 *   flood HOST PORT SIZE SECONDS [FLOWS [SRC_PORT]] as many datagrams as possible for SECONDS, to ports
 *                                        PORT..PORT+FLOWS-1 in turn (default 1 flow); prints
 *                                        sent (sends that succeeded) and failed; from SRC_PORT
 *                                        (SO_REUSEPORT) when given
 *   tcp-sink PORT                        accept TCP connections on [::] and discard the data
 *   tcp   HOST PORT BYTES                send BYTES over one TCP connection, then close
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, isIPv6 } from 'node:net';
import { sleep } from '../poll.ts';

const [mode, ...args] = process.argv.slice(2);

function udpSocket(host: string, options: { reusePort?: boolean } = {}): Socket {
  return createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', ...options });
}

function send(socket: Socket, payload: Buffer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => socket.send(payload, port, host, (err) => (err ? reject(err) : resolve())));
}

function bind(socket: Socket, port = 0): Promise<void> {
  return new Promise((resolve) => socket.bind(port, resolve));
}

switch (mode) {
  case 'udp': {
    const [host, port, sizes, count] = args as [string, string, string, string];
    const socket = udpSocket(host);
    await bind(socket);
    for (const size of sizes.split(',').map(Number)) {
      for (let i = 0; i < Number(count); i++) await send(socket, Buffer.alloc(size, 7), Number(port), host);
    }
    console.log(JSON.stringify({ port: socket.address().port }));
    socket.close();
    break;
  }
  case 'flows': {
    const [host, first, n, size] = args.map((a, i) => (i === 0 ? a : Number(a))) as [string, number, number, number];
    const socket = udpSocket(host);
    await bind(socket);
    const payload = Buffer.alloc(size, 1);
    for (let i = 0; i < n; i++) await send(socket, payload, first + i, host);
    console.log(JSON.stringify({ port: socket.address().port, flows: n }));
    socket.close();
    break;
  }
  case 'reuse': {
    // Several processes run this with the same SRC_PORT (SO_REUSEPORT) and
    // START_MS, walking the same destination ports in the same order: each new
    // flow's first packets race on different CPUs to insert it.
    const [host, firstDst, flows, srcPort, count, size, startAt] = args.map((a, i) => (i === 0 ? a : Number(a))) as [string, ...number[]];
    const socket = udpSocket(host, { reusePort: true });
    await bind(socket, srcPort);
    const payload = Buffer.alloc(size!, 2);
    await sleep(Math.max(0, startAt! - Date.now()));
    for (let round = 0; round < count!; round++) {
      for (let i = 0; i < flows!; i++) await send(socket, payload, firstDst! + i, host);
    }
    console.log(JSON.stringify({ flows, count }));
    socket.close();
    break;
  }
  case 'spread': {
    const [sources, destinations, first, ports, size] = args as [string, string, string, string, string];
    const payload = Buffer.alloc(Number(size), 4);
    let flows = 0;
    for (const source of sources.split(',')) {
      const socket = udpSocket(source);
      await new Promise<void>((resolve) => socket.bind({ address: source }, resolve));
      for (const host of destinations.split(',')) {
        for (let port = Number(first); port < Number(first) + Number(ports); port++, flows++) await send(socket, payload, port, host);
      }
      socket.close();
    }
    console.log(JSON.stringify({ flows }));
    break;
  }
  case 'connections': {
    const [sources, destinations, port, sockets, size] = args as [string, string, string, string, string];
    const payload = Buffer.alloc(Number(size), 5);
    const hosts = destinations.split(',');
    let flows = 0;
    for (const source of sources.split(',')) {
      for (let n = 0; n < Number(sockets); n++) {
        const socket = udpSocket(source);
        await new Promise<void>((resolve) => socket.bind({ address: source, port: 20000 + n }, resolve));
        // All of a socket's datagrams in flight at once (unconnected: ICMP replies fail no send).
        await Promise.all(hosts.map((host) => send(socket, payload, Number(port), host)));
        flows += hosts.length;
        socket.close();
      }
    }
    console.log(JSON.stringify({ flows }));
    break;
  }
  case 'flood': {
    const [host, port, size, seconds, flows = 1, srcPort] = args.map((a, i) => (i === 0 ? a : Number(a))) as [string, number, number, number, number?, number?];
    // Unconnected: B's ICMP port-unreachable replies cannot fail the sends.
    // With SRC_PORT several floods share the source port (SO_REUSEPORT), hence the flows.
    const socket = udpSocket(host, { reusePort: srcPort !== undefined });
    await bind(socket, srcPort);
    const payload = Buffer.alloc(size, 3);
    const until = Date.now() + seconds * 1000;
    let sent = 0;
    let failed = 0;
    // Keep a bounded number of sends in flight: fast, without unbounded memory.
    await new Promise<void>((resolve) => {
      let inFlight = 0;
      const pump = () => {
        while (inFlight < 64 && Date.now() < until) {
          inFlight++;
          socket.send(payload, port + (sent + failed + inFlight) % flows, host, (err) => {
            inFlight--;
            if (err) failed++;
            else sent++;
            if (inFlight === 0 && Date.now() >= until) resolve();
            else pump();
          });
        }
        if (inFlight === 0) resolve();
      };
      pump();
    });
    console.log(JSON.stringify({ sent, failed }));
    socket.close();
    break;
  }
  case 'tcp-sink': {
    const server = createServer((socket) => {
      socket.resume();
      socket.on('error', () => socket.destroy());
    });
    server.listen({ port: Number(args[0]), host: '::', ipv6Only: false }, () => console.log(JSON.stringify({ ready: true })));
    break;
  }
  case 'tcp': {
    const [host, port, bytes] = args as [string, string, string];
    const socket = connect({ host, port: Number(port) });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const localPort = socket.localPort;
    const chunk = Buffer.alloc(64 * 1024, 5);
    let left = Number(bytes);
    while (left > 0) {
      const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= piece.length;
      if (!socket.write(piece)) await new Promise((resolve) => socket.once('drain', resolve));
    }
    socket.end();
    socket.resume();
    await new Promise((resolve) => socket.once('close', resolve));
    console.log(JSON.stringify({ port: localPort }));
    break;
  }
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
