/**
 * A TCP relay on loopback between an agent and its gateways: what a
 * Kubernetes Service and the network between them do to the agent's gRPC
 * connection, under the test's control.
 *
 * - `route(port)`: new connections go to the gateway on `port`; existing ones
 *   stay with their gateway until it closes them, as when a Service stops
 *   sending to a terminating gateway.
 * - `cut()`: every connection is destroyed (the agent's gRPC client
 *   reconnects); with route(), a failover: the gateway became unreachable.
 * - `partition()`: connections are cut, and new ones are accepted but go
 *   nowhere (nothing comes back), as when packets are dropped, until route().
 * - `loseResponses()`: requests still reach the gateway but nothing it sends
 *   back reaches the agent, until cut(): an export the gateway applied whose
 *   acknowledgement the agent never got.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

type Mode = { kind: 'route'; port: number } | { kind: 'partition' };

export class Relay {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #mode: Mode;
  #dropResponses = false;
  /** Bytes the gateways sent back that the relay dropped (loseResponses). */
  droppedResponseBytes = 0;
  /** Bytes the agent sent that reached a gateway. */
  forwardedRequestBytes = 0;
  port = 0;

  private constructor(port: number) {
    this.#mode = { kind: 'route', port };
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(gatewayPort: number): Promise<Relay> {
    const relay = new Relay(gatewayPort);
    await new Promise<void>((resolve) => relay.#server.listen(0, '127.0.0.1', resolve));
    relay.port = (relay.#server.address() as { port: number }).port;
    return relay;
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  #accept(client: Socket): void {
    this.#track(client);
    const mode = this.#mode;
    // Partitioned: hold the connection, read and drop what comes, answer nothing.
    if (mode.kind === 'partition') {
      client.resume();
      return;
    }
    const gateway = connect(mode.port, '127.0.0.1');
    this.#track(gateway);
    gateway.on('close', () => client.destroy());
    client.on('close', () => gateway.destroy());
    client.on('data', (chunk: Buffer) => {
      this.forwardedRequestBytes += chunk.length;
      gateway.write(chunk);
    });
    gateway.on('data', (chunk: Buffer) => {
      if (this.#dropResponses) this.droppedResponseBytes += chunk.length;
      else client.write(chunk);
    });
  }

  /** Sends new connections to the gateway on `port`; current ones stay where they are. */
  route(port: number): void {
    this.#mode = { kind: 'route', port };
  }

  /** Cuts every connection and black-holes new ones until route(). */
  partition(): void {
    this.#mode = { kind: 'partition' };
    this.cut();
  }

  /** From now on, what gateways send back is dropped (requests still go through) until route() or cut(). */
  loseResponses(): void {
    this.droppedResponseBytes = 0;
    this.#dropResponses = true;
  }

  /** Destroys every connection (the agent reconnects); responses flow again. */
  cut(): void {
    for (const s of this.#sockets) s.destroy();
    this.#dropResponses = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
