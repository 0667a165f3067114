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

export function checkKey(s: string): string {
  if (!isKey(s)) {
    throw new LsmError('invalid_name', `invalid key name ${shown(s)}`, {
      hint: 'keys are environment variable names: letters, digits and _, not starting with a digit',
    });
  }
  return s;
}
