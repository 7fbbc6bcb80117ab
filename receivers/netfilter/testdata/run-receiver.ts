/**
 * Runs the netfilter receiver alone, for tests that need it in a child process
 * (SIGKILL, dropped capabilities). argv[2]: the receiver's config as JSON.
 * Prints {"programIds": [...]} once started; on SIGTERM shuts down and prints the
 * records it emitted; on a start error prints the message to stderr, exits 1.
 */
import { netfilterConfigSchema } from '../config.ts';
import { NetfilterReceiver } from '../receiver.ts';
import { RecordingConsumer, testSettings } from '../../../test/support/components.ts';

const config = netfilterConfigSchema.parse(JSON.parse(process.argv[2] ?? '{}'));
const sink = new RecordingConsumer();
const receiver = new NetfilterReceiver(testSettings('netfilter', 'receiver'), config, sink);
try {
  await receiver.start();
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
console.log(JSON.stringify({ programIds: receiver.programIds }));
const keepAlive = setInterval(() => {}, 60_000);
process.once('SIGTERM', () => {
  void receiver.shutdown().then(() => {
    console.log(JSON.stringify({ records: sink.records }));
    clearInterval(keepAlive);
  });
});
