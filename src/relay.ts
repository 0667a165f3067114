import { inForeground } from './term/tty.js';

/**
 * Signals relayed to the child. INT, QUIT and WINCH come from the terminal to the whole
 * foreground process group, the child included, so they are relayed only when lsm is
 * not that group (a `kill` from elsewhere, a background job, no terminal): relaying a
 * Ctrl-C the child already got would deliver it twice, and some programs count them.
 * While the child runs lsm itself never dies of these; it dies after the child, of
 * the child's signal. This is system(3)'s rule for INT and QUIT, made exact with
 * /proc; a `kill -INT <lsm pid>` sent while lsm is the foreground job is not relayed.
 */
const RELAYED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;
const FROM_TERMINAL = new Set<NodeJS.Signals>(['SIGINT', 'SIGQUIT', 'SIGWINCH']);

/** Relays the signals lsm receives to the child it runs (`exec`, `shield`); returns what stops it. */
export function relaySignals(send: (signal: NodeJS.Signals) => void): () => void {
  const handlers = RELAYED.map((sig) => {
    const h = () => {
      if (FROM_TERMINAL.has(sig) && inForeground()) return;
      try { send(sig); } catch { /* already gone */ }
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => { for (const [sig, h] of handlers) process.off(sig, h); };
}
