import { LsmError } from '../errors.js';

/** Reads all of stdin as bytes (a pipe or a file). */
export async function readStdin(stdin: NodeJS.ReadStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

let typedAhead = '';

/**
 * Reads one line from the terminal on stdin, with echo off when `secret`.
 * Raw mode and the handler are undone whatever happens, and Ctrl-C aborts cleanly.
 */
export async function ask(stdin: NodeJS.ReadStream, stderr: { write(s: string): unknown }, prompt: string, secret: boolean): Promise<string> {
  stderr.write(prompt);
  if (!stdin.isTTY) throw new LsmError('usage', 'cannot prompt: stdin is not a terminal');
  const wasRaw = stdin.isRaw;
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let line = '';
      const finish = (rest: string, done: () => void) => {
        // Typed-ahead answers ("y<Enter>n<Enter>") belong to the next prompt.
        typedAhead = rest;
        stdin.off('data', onData);
        stderr.write('\n');
        done();
      };
      const onData = (s: string) => {
        const chars = Array.from(s);
        for (let i = 0; i < chars.length; i++) {
          const ch = chars[i];
          const rest = () => chars.slice(i + 1).join('');
          if (ch === '\r' || ch === '\n') {
            // A CR LF pair is one Enter.
            const r = ch === '\r' && chars[i + 1] === '\n' ? chars.slice(i + 2).join('') : rest();
            return finish(r, () => resolve(line));
          }
          if (ch === '\u0003') return finish('', () => reject(new LsmError('usage', 'interrupted', { exit: 130 })));
          if (ch === '\u0004' && line === '') return finish(rest(), () => resolve(''));
          if (ch === '\u007f' || ch === '\b') {
            if (line.length > 0) {
              line = Array.from(line).slice(0, -1).join('');
              if (!secret) stderr.write('\b \b');
            }
            continue;
          }
          if (ch < ' ' && ch !== '\t') continue;
          line += ch;
          if (!secret) stderr.write(ch);
        }
      };
      stdin.on('data', onData);
      if (typedAhead) {
        const pending = typedAhead;
        typedAhead = '';
        onData(pending);
      }
    });
  } finally {
    stdin.setRawMode(wasRaw);
    stdin.pause();
  }
}

/** A y/N question on the terminal; anything but y or yes is no. */
export async function confirm(stdin: NodeJS.ReadStream, stderr: { write(s: string): unknown }, prompt: string): Promise<boolean> {
  const answer = (await ask(stdin, stderr, `${prompt} [y/N] `, false)).trim().toLowerCase();
  return answer === 'y' || answer === 'yes';
}
