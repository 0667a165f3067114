import { LsmError } from './errors.js';

// App and env names become part of a file name (<app>.<env>.age): a dot or a slash
// would escape the layout or make `apps` ambiguous, and a leading '-' reads as a flag.
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;
const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;

export function isName(s: string): boolean {
  return NAME.test(s);
}

export function isKey(s: string): boolean {
  return KEY.test(s);
}

/** Shows a user-supplied string in an error without letting it flood or control the terminal. */
export function shown(s: string): string {
  const clean = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return JSON.stringify(clean.length > 40 ? `${clean.slice(0, 40)}...` : clean);
}

export function checkName(kind: 'app' | 'env', s: string): string {
  if (!isName(s)) {
    throw new LsmError('invalid_name', `invalid ${kind} name ${shown(s)}`, {
      hint: `${kind} names use letters, digits, '_' and '-' (at most 64, not starting with '-')`,
    });
  }
  return s;
}

/**
 * A key name, or a usage error that does not repeat the argument: what stands where a key
 * goes may be a value (`lsm set API_KEY=sk-...`), and errors end up in agents' logs.
 */
export function checkKey(s: string): string {
  if (!isKey(s)) {
    const assignment = /^[A-Za-z_][A-Za-z0-9_]*=/.test(s);
    throw new LsmError('invalid_name', assignment ? 'invalid key name: KEY=VALUE is not a form lsm takes' : 'invalid key name', {
      hint: assignment
        ? 'pass the value as its own argument (lsm set KEY VALUE), on stdin (lsm set KEY -), or be prompted (lsm set KEY)'
        : 'keys are environment variable names: letters, digits and _, not starting with a digit (the argument is not repeated here: it may be a value)',
    });
  }
  return s;
}
