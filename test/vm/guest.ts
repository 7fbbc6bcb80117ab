/**
 * What test/vm/vm.test.ts runs inside the Linux 6.1 VM (test/vm/run), in one
 * boot: the cgroup receiver's exactness test (a child, as make test runs it),
 * then in this process the cgroup receiver (it must start and say which code
 * path runs and why; first: a netfilter receiver built in the same process
 * would make it share socket sources) and the netfilter receiver (it must
 * refuse) — in-process
 * because each Node start costs seconds under emulation. Prints each step's
 * output, then one line `ZONETAP_VM_RESULT {...}` that the host test checks.
 */
import { spawnSync } from 'node:child_process';
import { release } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RecordingConsumer, testSettings } from '../../test/support/components.ts';
import { cgroupConfigSchema, CgroupReceiver } from '../../receivers/cgroup/index.ts';
import { netfilterConfigSchema, NetfilterReceiver } from '../../receivers/netfilter/index.ts';

const root = join(import.meta.dirname, '..', '..');
const step = (name: string) => console.log(`== ${name} (${process.uptime().toFixed(0)}s)`);

step('exactness test');
// In this process's child itself (--test-isolation=none), so that a crash of its Node shows as the signal.
const exact = spawnSync(process.execPath, ['--test', '--test-isolation=none', '--test-force-exit', '--test-reporter=spec', join(root, 'receivers', 'cgroup', 'exact.test.ts')], {
  encoding: 'utf8',
  cwd: root,
  env: { ...process.env, FORCE_COLOR: '0' },
});
process.stdout.write(exact.stdout + exact.stderr);
if (exact.status !== 0) console.log(`exactness test ended with status ${exact.status}, signal ${exact.signal}${exact.error ? `, ${exact.error.message}` : ''}`);

step('cgroup receiver');
const lines: string[] = [];
const settings = { ...testSettings('cgroup', 'receiver'), logger: pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) })) };
const receiver = new CgroupReceiver(settings, cgroupConfigSchema.parse({ interval: '1s' }), new RecordingConsumer());
await receiver.start();
await receiver.shutdown();
console.log(lines.join(''));

step('netfilter receiver');
let refusal = '';
try {
  await new NetfilterReceiver(testSettings('netfilter', 'receiver'), netfilterConfigSchema.parse({}), new RecordingConsumer()).start();
} catch (err) {
  refusal = `${(err as { code?: string }).code}: ${(err as Error).message}`;
}
console.log(refusal);

step('done');
const result = {
  kernel: release(),
  exact: { status: exact.status, signal: exact.signal, passed: /^ℹ pass (\d+)$/m.exec(exact.stdout)?.[1], failed: /^ℹ fail (\d+)$/m.exec(exact.stdout)?.[1] },
  netfilter: refusal,
  cgroup: lines[0]?.trim() ?? '',
};
console.log(`ZONETAP_VM_RESULT ${JSON.stringify(result)}`);
