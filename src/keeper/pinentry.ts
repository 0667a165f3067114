import { spawn } from 'node:child_process';

/**
 * A small Assuan client for pinentry, the program gpg-agent uses to ask a person for a
 * passphrase (pinentry-curses, pinentry-tty, pinentry-gnome3...). Each command is one
 * line; the answer is `OK`, or `ERR <code> <text>`, after data lines `D <percent-encoded>`.
 * The pinentry gets only the environment given here (the keeper's choice), never a
 * caller's.
 */
export type PinResult =
  | { kind: 'pin'; pin: Buffer }
  | { kind: 'no_pin' }
  | { kind: 'cancelled' }
  | { kind: 'timeout' }
  | { kind: 'failed'; why: string };

export interface PinRequest {
  program: string;
  args: string[];
  env: Record<string, string>;
  options: string[];
  title: string;
  description: string;
  prompt: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** gpg-error's GPG_ERR_CANCELED from the pinentry source: the person pressed Cancel or Escape. */
const CANCELLED = 83886179;
/** GPG_ERR_TIMEOUT: the pinentry's own SETTIMEOUT ran out. */
const TIMED_OUT = 83886142;
/** Assuan lines are at most 1000 bytes: a description is cut well below that. */
const MAX_ARG = 900;

/** Percent-encodes what Assuan cannot carry in a line (%, CR, LF and other controls). */
export function assuanEscape(text: string): string {
  let out = text.replace(/[%\r\n\x00-\x1f\x7f]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
  if (Buffer.byteLength(out) > MAX_ARG) {
    out = Buffer.from(out).subarray(0, MAX_ARG).toString('utf8').replace(/%[0-9A-F]?$/, '').replace(/\uFFFD$/, '');
  }
  return out;
}

function unescape(data: string): Buffer {
  const bytes: number[] = [];
  const raw = Buffer.from(data, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x25 && i + 2 < raw.length + 0 && /^[0-9A-Fa-f]{2}$/.test(raw.subarray(i + 1, i + 3).toString('latin1'))) {
      bytes.push(parseInt(raw.subarray(i + 1, i + 3).toString('latin1'), 16));
      i += 2;
    } else bytes.push(raw[i]!);
  }
  const out = Buffer.from(bytes);
  bytes.fill(0);
  raw.fill(0);
  return out;
}

export function askPin(req: PinRequest): Promise<PinResult> {
  return new Promise((resolve) => {
    const child = spawn(req.program, req.args, { env: req.env, stdio: ['pipe', 'pipe', 'ignore'], detached: true, cwd: '/' });
    let done = false;
    let buffered = '';
    let data: Buffer[] = [];
    const finish = (r: PinResult) => {
      if (done) {
        if (r.kind === 'pin') r.pin.fill(0);
        return;
      }
      done = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      const kill = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } };
      // Out of time: the prompt goes at once, before anyone is told. Otherwise it is asked to
      // leave, and killed if it does not: nothing waits on it.
      if (r.kind === 'timeout' || r.kind === 'failed') kill();
      else setTimeout(kill, 2000).unref();
      try { child.stdin!.end('BYE\n'); } catch { /* gone */ }
      resolve(r);
    };
    const onAbort = () => finish({ kind: 'failed', why: 'the asking client went away' });
    req.signal?.addEventListener('abort', onAbort);
    const timer = setTimeout(() => finish({ kind: 'timeout' }), req.timeoutMs);
    child.on('error', (err) => finish({ kind: 'failed', why: `cannot run ${req.program}: ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
    child.on('exit', () => finish({ kind: 'failed', why: `${req.program} exited without an answer` }));
    child.stdin!.on('error', () => { /* it exited: reported above */ });

    // The conversation: the greeting, then each command in turn; OPTION and SETTIMEOUT
    // failures are not fatal (a pinentry may not know an option).
    const timeoutS = Math.max(1, Math.ceil(req.timeoutMs / 1000));
    const steps: Array<{ line?: string; optional?: boolean; last?: boolean }> = [
      {},
      ...req.options.map((o) => ({ line: `OPTION ${o}`, optional: true })),
      { line: `SETTIMEOUT ${timeoutS}`, optional: true },
      { line: `SETTITLE ${assuanEscape(req.title)}`, optional: true },
      { line: `SETDESC ${assuanEscape(req.description)}` },
      { line: `SETPROMPT ${assuanEscape(req.prompt)}`, optional: true },
      { line: 'GETPIN', last: true },
    ];
    let step = 0;
    const next = () => {
      step++;
      const s = steps[step];
      if (s?.line) child.stdin!.write(`${s.line}\n`);
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0 && !done; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        const s = steps[step]!;
        if (line.startsWith('D ')) {
          if (s.last) data.push(unescape(line.slice(2)));
        } else if (line === 'OK' || line.startsWith('OK ')) {
          if (s.last) {
            const pin = Buffer.concat(data);
            for (const d of data) d.fill(0);
            data = [];
            finish(pin.length > 0 ? { kind: 'pin', pin } : { kind: 'no_pin' });
          } else next();
        } else if (line.startsWith('ERR')) {
          const code = Number(line.split(' ')[1]);
          if (s.last) finish(code === CANCELLED ? { kind: 'cancelled' } : code === TIMED_OUT ? { kind: 'timeout' } : { kind: 'failed', why: `pinentry: ${line.slice(0, 120)}` });
          else if (s.optional) next();
          else finish({ kind: 'failed', why: `pinentry: ${line.slice(0, 120)}` });
        } else if (line.startsWith('INQUIRE')) {
          child.stdin!.write('CAN\n');
        }
        // S (status) and # (comment) lines are informational.
      }
    });
  });
}
