import { LsmError } from '../errors.js';
import { ask } from './prompt.js';
import type { Context } from '../context.js';

// Reads one line of a non-terminal stdin and stops there; what follows the newline is
// not for the passphrase (and is dropped: no command reads stdin after it).
async function readLine(stdin: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const done = (err?: unknown) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', done);
      stdin.pause();
      if (err) return reject(err);
      const all = Buffer.concat(chunks);
      const nl = all.indexOf(0x0a);
      const line = (nl < 0 ? all : all.subarray(0, nl)).toString('utf8');
      all.fill(0);
      resolve(line.endsWith('\r') ? line.slice(0, -1) : line);
    };
    const onData = (d: Buffer | string) => {
      const b = typeof d === 'string' ? Buffer.from(d) : d;
      chunks.push(b);
      if (b.includes(0x0a)) done();
    };
    const onEnd = () => done();
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', done);
    stdin.resume();
  });
}

/**
 * Asks for a passphrase: on a terminal without echo (twice with `confirm`), otherwise one
 * line of stdin (scripts, tests: `printf '%s\n' "$PASS" | lsm init --protect`). An empty
 * passphrase is refused.
 */
export async function readPassphrase(ctx: Context, prompt: string, opts: { confirm?: boolean } = {}): Promise<string> {
  const stdin = ctx.stdin;
  let pass: string;
  if (stdin.isTTY) {
    pass = await ask(stdin, ctx.stderr, prompt, true);
    if (pass !== '' && opts.confirm) {
      const again = await ask(stdin, ctx.stderr, 'Repeat the passphrase: ', true);
      if (again !== pass) throw new LsmError('usage', 'the passphrases do not match; nothing was changed');
    }
  } else {
    pass = await readLine(stdin);
  }
  if (pass === '') {
    throw new LsmError('usage', 'an empty passphrase was given; nothing was changed', {
      hint: stdin.isTTY ? undefined : 'off a terminal the passphrase is read as the first line of stdin',
    });
  }
  return pass;
}
