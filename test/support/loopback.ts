/**
 * Test support for servers on loopback: free ports, and a TCP proxy that can
 * be cut and restored (a gateway unreachable for a while). freePort() and
 * portIsFree() are sim/'s (the demo picks its ports with them): one
 * implementation for the demo and the tests.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export { freePort, portIsFree } from '../../sim/zonetap-process.ts';

/**
 * A TCP proxy on loopback that can be cut (listener closed, connections
 * destroyed) and restored on the same port: a gateway that is unreachable
 * for a while but keeps its state.
 */
export class PausableProxy {
  readonly #target: number;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  port = 0;

  constructor(targetPort: number) {
    this.#target = targetPort;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.#target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
