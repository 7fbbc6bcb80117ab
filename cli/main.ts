/**
 * The zonetap command: bin/zonetap runs this file. It only catches the signals
 * `zonetap run` handles, then loads the commands (commands.ts), which pull in
 * the pipeline and every component: a SIGTERM or SIGHUP during that second or
 * more must not kill the process unlogged (signals.ts). Keep it that way:
 * nothing heavy may be imported statically here.
 */
import { SignalInbox } from './signals.ts';

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const inbox = argv[0] === 'run' ? new SignalInbox() : undefined;
  const { runCommandLine } = await import('./commands.ts');
  await runCommandLine(argv, inbox);
}
