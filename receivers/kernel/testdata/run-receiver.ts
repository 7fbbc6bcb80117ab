/**
 * Runs one kernel receiver alone, for tests that need it in a child process
 * (SIGKILL, dropped capabilities). argv[2]: netfilter or cgroup; argv[3]: its
 * config as JSON. Prints {"programIds": [...]} once started; on SIGTERM shuts
 * down and prints the records it emitted; on a start error prints the message
 * to stderr and exits 1.
 */
import { RecordingConsumer, testSettings } from '../../../test/support/components.ts';
import { cgroupConfigSchema, CgroupReceiver } from '../../cgroup/index.ts';
import { netfilterConfigSchema, NetfilterReceiver } from '../../netfilter/index.ts';

const [kind, json = '{}'] = process.argv.slice(2);
const sink = new RecordingConsumer();
const receiver =
  kind === 'cgroup'
    ? new CgroupReceiver(testSettings('cgroup', 'receiver'), cgroupConfigSchema.parse(JSON.parse(json)), sink)
    : new NetfilterReceiver(testSettings('netfilter', 'receiver'), netfilterConfigSchema.parse(JSON.parse(json)), sink);
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
