/**
 * The signals `zonetap run` handles, caught from the first moment the command
 * runs. main.ts installs the inbox before it loads the pipeline and the
 * components (a second or more), so that a signal in that time is not the
 * default action (SIGTERM: exit 143 with no log; SIGHUP: exit 129) but waits
 * here until runService takes it: a clean exit, or a reload once running.
 * Imports nothing: it must be cheap to load.
 */
export type HandledSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP';
export const HANDLED_SIGNALS: readonly HandledSignal[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

export class SignalInbox {
  readonly #pending: HandledSignal[] = [];
  #listener: ((signal: HandledSignal) => void) | undefined;
  readonly #receive = (signal: NodeJS.Signals) => {
    if (this.#listener) this.#listener(signal as HandledSignal);
    else this.#pending.push(signal as HandledSignal);
  };

  /** Catches SIGTERM, SIGINT and SIGHUP from now on; they wait until listen(). */
  constructor() {
    for (const signal of HANDLED_SIGNALS) process.on(signal, this.#receive);
  }

  /** Hands the signals received so far (in order), then every later one, to `listener`. */
  listen(listener: (signal: HandledSignal) => void): void {
    this.#listener = listener;
    for (const signal of this.#pending.splice(0)) listener(signal);
  }

  /** Stops catching: the signals' default actions apply again. */
  close(): void {
    for (const signal of HANDLED_SIGNALS) process.off(signal, this.#receive);
    this.#listener = undefined;
  }
}
