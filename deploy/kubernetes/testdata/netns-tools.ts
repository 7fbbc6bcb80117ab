/**
 * Child process of pods.test.ts, run inside the test's network namespace.
 *   udp SRC DST COUNT SIZE    sends COUNT datagrams whose IP packets are SIZE bytes from SRC to
 *                             DST (IPv4, a receiver bound on DST:9000 takes them); prints {"sent": N}
 *   scrape URL REGEX TIMEOUT  polls URL until a line of its body matches REGEX or TIMEOUT ms pass;
 *                             prints {"matched": bool, "body": "..."}
 *   otlp PORT [TOKEN]         what any pod could send a gateway: one OTLP export of made-up
 *                             cross-zone flows from workload "forged" to 127.0.0.1:PORT, with
 *                             `authorization: Bearer TOKEN` when given; prints {"code": gRPC status}
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import { encodeRequest, rawExport, series } from '../../../test/support/otlp.ts';
import { until } from '../../../test/support/poll.ts';

const [command, ...args] = process.argv.slice(2);
const IPV4_UDP_HEADERS = 28;

if (command === 'udp') {
  const [src, dst, count, size] = args as [string, string, string, string];
  const receiver = createSocket('udp4');
  receiver.bind(9000, dst);
  await once(receiver, 'listening');
  let received = 0;
  receiver.on('message', () => received++);
  const sender = createSocket('udp4');
  sender.bind(0, src);
  await once(sender, 'listening');
  const payload = Buffer.alloc(Number(size) - IPV4_UDP_HEADERS, 0x7a);
  for (let i = 0; i < Number(count); i++) await new Promise<void>((resolve, reject) => sender.send(payload, 9000, dst, (err) => (err ? reject(err) : resolve())));
  // Up to 5 s for the last datagrams; the receiver may have dropped some (the test allows that).
  await until('every datagram at the receiver', () => received >= Number(count), { timeoutMs: 5000 }).catch(() => undefined);
  sender.close();
  receiver.close();
  console.log(JSON.stringify({ sent: Number(count), received }));
} else if (command === 'scrape') {
  const [url, pattern, timeout] = args as [string, string, string];
  const re = new RegExp(pattern, 'm');
  let body = '';
  const matches = async () => re.test((body = await fetch(url).then((r) => r.text(), (err: Error) => `fetch failed: ${err.message}`)));
  await until(`a line matching ${pattern}`, matches, { timeoutMs: Number(timeout), intervalMs: 500 }).catch(() => undefined); // reported as matched: false
  console.log(JSON.stringify({ matched: re.test(body), body }));
} else if (command === 'otlp') {
  const [port, token] = args as [string, string | undefined];
  const forged = series({ 'src.address': '10.0.0.3', 'dst.address': '10.0.0.4', 'k8s.src.namespace': 'team-0', 'k8s.src.owner_name': 'forged', 'k8s.src.owner_type': 'Deployment', 'src.zone': 'zone-0', 'dst.zone': 'zone-1' }, Date.now() - 1000, 999_999_000, 999_999);
  const metadata = new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  console.log(JSON.stringify(await rawExport(Number(port), encodeRequest('impostor', [forged], Date.now()), { metadata })));
} else {
  console.error('usage: netns-tools.ts udp SRC DST COUNT SIZE | scrape URL REGEX TIMEOUT_MS | otlp PORT [TOKEN]');
  process.exitCode = 2;
}
