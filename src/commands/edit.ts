import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { constants as os } from 'node:os';
import { LsmError, errno, usage } from '../errors.js';
import { parseEnv } from '../dotenv.js';
import { shown } from '../names.js';
import { record } from '../audit/record.js';
import { confirm } from '../term/prompt.js';
import { stdinIsTTY } from '../term/tty.js';
import { decodeEnv, refuseNul } from '../envfiles.js';
import { makeEditTemp, removeEditTemp } from '../edit-temp.js';
import { findOnPath } from '../command-path.js';
import { inForeground } from '../term/tty.js';
import { targetOf } from './common.js';
import { vaultOf } from '../vault-of.js';
import type { Context } from '../context.js';

const SHOWN = 'edited text';

/**
 * `edit [app] [env]`: the store's .env text in $VISUAL, $EDITOR or vi. The plaintext
 * lives only in a 0600 file in a fresh 0700 directory inside the lsm home, and that
 * directory is zeroed and removed however the edit ends (editor failure, a signal to
 * lsm, an error); one killed with SIGKILL is swept by the next lsm command (src/edit-temp.ts).
 *
 * The edit is saved under the store's lock. If the store changed while the editor was
 * open (a `set` from another shell), the two are merged key by key when they touched
 * different keys, and refused, naming the keys, when both changed the same key: a
 * concurrent change is never silently lost (the original overwrote it).
 *
 * Two events: one before the text is revealed (stage open), one under the lock before
 * the save (stage save, with the counts); failures are recorded as errors.
 */
export async function run(ctx: Context, args: string[], opts: { reason?: string } = {}): Promise<number> {
  if (args.length > 2) throw usage('too many arguments', 'lsm edit [app] [env]');
  const { target } = await targetOf(ctx, args, 0);
  const editor = editorCommand(ctx);
  // Through the vault: in a protected home the keeper reveals the text (the policy asked,
  // the open recorded) and saves the edit; the plaintext is here only while the user edits.
  const vault = await vaultOf(ctx);
  const { text: original, exists, token } = await vault.openEdit(target, { reason: opts.reason });
  if (!exists) ctx.stderr.write(`${target.app}/${target.env} does not exist yet: saving creates it.\n`);
  const base = { event: 'edit', ...target };

  const guard = new SignalGuard();
  let dir: string | undefined;
  let saving = false;
  try {
    dir = makeEditTemp(ctx.home.dir);
    const file = join(dir, `${target.app}.${target.env}.env`);
    writeNew(file, original);
    const edited = await editUntilValid(ctx, editor, file, original, guard);
    if (edited === undefined) {
      ctx.stdout.write('No changes.\n');
      return 0;
    }
    // The save records its own event, or its own failure.
    saving = true;
    const { how, counts } = await vault.saveEdit(target, { original, edited, token });
    if (how === 'nothing') {
      ctx.stdout.write(`${target.app}/${target.env} changed while you were editing, and your edit changed no value (comments and order cannot be merged): nothing saved.\n`);
      return 0;
    }
    ctx.stdout.write(`Saved ${target.app}/${target.env}: ${counts.added} added, ${counts.changed} changed, ${counts.removed} removed, ${counts.unchanged} unchanged.\n`);
    if (how === 'merged') ctx.stdout.write('The store changed while you were editing: your changes were applied key by key on top of it; your comment and order changes were not kept.\n');
    return 0;
  } catch (err) {
    if (!saving) {
      const reason = err instanceof Interrupted ? 'signal' : err instanceof LsmError ? err.code : 'internal';
      await record(ctx, { ...base, outcome: 'error', fields: { reason } }, { failClosed: false });
    }
    // The guard ends lsm with the signal once the temp file is gone, before the usual report.
    if (err instanceof Interrupted) ctx.stderr.write(`lsm: ${err.message}\n`);
    throw err;
  } finally {
    if (dir !== undefined) removeEditTemp(dir);
    guard.release();
  }
}

/** Runs the editor until the text parses; undefined when it is byte-for-byte unchanged. The text, decoded, when it does. */
async function editUntilValid(ctx: Context, editor: string[], file: string, original: string, guard: SignalGuard): Promise<string | undefined> {
  for (;;) {
    await guard.run(editor, file);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      throw new LsmError('io', `cannot read the edited text back (${errno(err) ?? 'error'}): did the editor remove it? nothing was saved`);
    }
    if (bytes.equals(Buffer.from(original, 'utf8'))) return undefined;
    // An editor or plugin that truncates the file, or a slip (:%d then :wq), would remove
    // every secret; an empty result cancels, as it does for git's commit message.
    if (bytes.toString('utf8').trim() === '' && original.trim() !== '') {
      throw new LsmError('usage', 'the edited text is empty; nothing was saved', {
        hint: "to remove every key, leave a comment line in the file, or use 'lsm delete'",
        exit: 1,
      });
    }
    try {
      const text = decodeEnv(bytes, SHOWN);
      refuseNul(parseEnv(text, SHOWN), SHOWN);
      return text;
    } catch (err) {
      if (!(err instanceof LsmError) || !stdinIsTTY()) throw withKeptNote(err);
      ctx.stderr.write(`lsm: ${err.message}\n`);
      if (!(await confirm(ctx.stdin, ctx.stderr, 'Edit again? (no discards this edit)'))) throw withKeptNote(err);
    }
  }
}

function withKeptNote(err: unknown): unknown {
  if (!(err instanceof LsmError)) return err;
  return new LsmError(err.code, `${err.message}; the store was left as it was`, { hint: err.hint, exit: err.exit });
}

/**
 * $VISUAL, then $EDITOR, then vi, split into words as a shell would for the simple
 * cases (`code --wait`, quoted paths with spaces); no variables, globs or pipes.
 */
function editorCommand(ctx: Context): string[] {
  const raw = (ctx.env.VISUAL?.trim() || ctx.env.EDITOR?.trim() || 'vi');
  const words = splitWords(raw);
  if (words.length === 0) throw usage('the editor command is empty', 'set $VISUAL or $EDITOR');
  const found = findOnPath(words[0], ctx.env.PATH ?? '', ctx.cwd);
  if (typeof found !== 'string') {
    throw new LsmError('exec', `editor ${shown(words[0])} ${found === null ? 'is not executable' : 'not found'}`, { hint: 'set $VISUAL or $EDITOR (e.g. EDITOR="code --wait")', exit: found === null ? 126 : 127 });
  }
  return [found, ...words.slice(1)];
}

function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (cur !== undefined) words.push(cur);
      cur = undefined;
    } else if (c === "'" || c === '"') {
      const end = s.indexOf(c, i + 1);
      if (end === -1) throw usage('the editor command has an unterminated quote', 'check $VISUAL and $EDITOR');
      let part = s.slice(i + 1, end);
      if (c === '"') part = part.replace(/\\([\\"$`])/g, '$1');
      cur = (cur ?? '') + part;
      i = end;
    } else if (c === '\\' && i + 1 < s.length) {
      cur = (cur ?? '') + s[++i];
    } else {
      cur = (cur ?? '') + c;
    }
  }
  if (cur !== undefined) words.push(cur);
  return words;
}

function writeNew(file: string, text: string): void {
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync(fd);
  }
}

class Interrupted extends LsmError {
  constructor(readonly signal: NodeJS.Signals) {
    super('usage', `interrupted by ${signal}; nothing was saved`, { exit: 128 + (os.signals[signal] ?? 15) });
  }
}

/**
 * Keeps lsm alive through SIGINT, SIGTERM and SIGHUP until the temp file is wiped. A
 * signal sent to lsm is passed to the editor and ends the edit unsaved; Ctrl-C on the
 * terminal already reaches the editor (same process group) and is the editor's to
 * interpret, so lsm ignores SIGINT while it is the terminal's foreground job.
 */
class SignalGuard {
  private child: ReturnType<typeof spawn> | undefined;
  caught: NodeJS.Signals | undefined;
  private readonly handlers: [NodeJS.Signals, () => void][];

  constructor() {
    this.handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
      const h = () => {
        if (sig === 'SIGINT' && inForeground()) return;
        this.caught ??= sig;
        this.child?.kill(sig);
      };
      process.on(sig, h);
      return [sig, h];
    });
  }

  run(editor: string[], file: string): Promise<void> {
    if (this.caught) return Promise.reject(new Interrupted(this.caught));
    return new Promise((resolve, reject) => {
      const child = spawn(editor[0]!, [...editor.slice(1), file], { stdio: 'inherit' });
      this.child = child;
      child.once('error', (err) => {
        this.child = undefined;
        reject(new LsmError('exec', `cannot start the editor: ${(err as { code?: string }).code ?? 'error'}`, { hint: 'set $VISUAL or $EDITOR' }));
      });
      child.once('exit', (code, signal) => {
        this.child = undefined;
        if (this.caught) reject(new Interrupted(this.caught));
        else if (signal) reject(new LsmError('exec', `the editor was killed by ${signal}; nothing was saved`));
        else if (code !== 0) reject(new LsmError('exec', `the editor exited with status ${code}; nothing was saved`));
        else resolve();
      });
    });
  }

  /** Removes the handlers; a signal caught meanwhile then ends lsm as it would have. */
  release(): void {
    for (const [sig, h] of this.handlers) process.off(sig, h);
    if (this.caught) process.kill(process.pid, this.caught);
  }
}
