/**
 * The zonetap command: bin/zonetap runs this file. It only catches the signals
 * `zonetap run` handles, then loads the commands (commands.ts), which pull in
 * the pipeline and the components a configuration uses: a SIGTERM or SIGHUP
 * during that half second must not kill the process unlogged (signals.ts).
 * Keep it that way: nothing heavy may be imported statically here.
 *
 * `zonetap --version` alone is answered here, loading nothing else: Node
 * strips the types of every TypeScript file it loads, and even the command
 * line parser's few files cost it a tenth more memory (bench/startup.bench.ts).
 */
import { SignalInbox } from './signals.ts';
import { isBareRun } from './usage.ts';

if (import.meta.main) {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
    const { VERSION } = await import('../pipeline/version.ts');
    process.stdout.write(`zonetap ${VERSION}\n`);
  } else {
    const inbox = argv[0] === 'run' || isBareRun(argv) ? new SignalInbox() : undefined;
    const { runCommandLine } = await import('./commands.ts');
    await runCommandLine(argv, inbox);
  }
}
