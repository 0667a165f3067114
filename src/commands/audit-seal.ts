import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { LsmError, errno, ioError, usage } from '../errors.js';
import { captureActor } from '../audit/actor.js';
import { startSealing, type SealStart } from '../audit/seal-start.js';
import { isProtected } from '../vault.js';
import { record } from '../audit/record.js';
import { readAnchors, type AnchorSet } from '../audit/anchors.js';
import { findChainEnd, readAt } from '../audit/tailstate.js';
import { openLog } from '../audit/reader.js';
import {
  parseVerificationKey, readKeyFile, sealKeyPath,
  type KeyFile, type VerificationKey,
} from '../audit/seal.js';
import { resolveFormat, type Format } from '../audit/format.js';
import { fileField, logPath } from './audit-common.js';
import type { Command } from 'commander';
import type { Context } from '../context.js';

/** `lsm audit seal init|status`, and the inputs `lsm audit verify` takes for seals and anchors. */
export async function run(ctx: Context, _args: string[], opts: Record<string, any>, cmd: Command): Promise<number> {
  return cmd.name() === 'status' ? status(ctx, opts, cmd) : init(ctx, opts, cmd);
}

// `lsm audit --format json seal init`: the flag may sit two levels up.
function formatOf(opts: { format?: string }, cmd: Command): Format {
  return resolveFormat(opts.format ?? cmd.parent?.parent?.opts().format);
}

function currentKey(path: string): KeyFile | 'garbled' | undefined {
  try {
    return readKeyFile(path);
  } catch {
    return 'garbled';
  }
}

async function init(ctx: Context, opts: Record<string, any>, cmd: Command): Promise<number> {
  const format = formatOf(opts, cmd);
  const path = logPath(ctx, opts);
  if (!opts.file && !existsSync(ctx.home.dir)) {
    throw new LsmError('not_found', `no lsm home at ${ctx.home.dir}`, { hint: "run 'lsm init' first" });
  }
  const keyPath = sealKeyPath(path);
  let started: SealStart;
  if (!opts.file && isProtected(ctx.home)) {
    // The keeper holds a protected home's seal key: it starts the new one in its memory.
    const { callKeeper } = await import('../keeper/client.js');
    started = await callKeeper<SealStart>(ctx, 'seal.init', { force: Boolean(opts.force) });
  } else {
    started = startSealing(path, currentKey(keyPath), {
      force: Boolean(opts.force), keyPath, now: ctx.now, actor: captureActor({ env: ctx.env, cwd: ctx.cwd }),
    });
  }
  const { verificationKey: vk, keyId } = started;
  const row = { seq: started.initSeq };
  if (format === 'json') {
    ctx.stdout.write(`${JSON.stringify({ verification_key: vk, key_id: keyId, init_seq: row.seq, sealed_from: row.seq + 1, key_file: keyPath })}\n`);
    return 0;
  }
  ctx.stdout.write(
    `Sealing is on: every row after seq ${row.seq} is sealed (key ${keyId}).\n\n` +
    'Verification key (shown this once; lsm keeps no copy):\n\n' +
    `    ${vk}\n\n` +
    'Keep it off this machine: in a password manager, or on paper. It checks every seal,\n' +
    'and it could forge them too, so it must not sit where an agent can read it. Check with\n' +
    '    lsm audit verify --verification-key -      (and paste it on stdin)\n',
  );
  return 0;
}

async function heldKey(ctx: Context): Promise<KeyFile | undefined> {
  const { callKeeper } = await import('../keeper/client.js');
  const k = await callKeeper<{ keyId: string; nextSeq: number } | null>(ctx, 'seal.status', {});
  return k ? { keyId: k.keyId, nextSeq: k.nextSeq, key: '' } : undefined;
}

async function status(ctx: Context, opts: Record<string, any>, cmd: Command): Promise<number> {
  const format = formatOf(opts, cmd);
  const path = logPath(ctx, opts);
  const keyPath = sealKeyPath(path);
  const held = !opts.file && isProtected(ctx.home);
  // A protected home's seal key is in the keeper's memory, never in audit.seal.
  const kf = held ? await heldKey(ctx) : currentKey(keyPath);
  let lastSeq = 0;
  let sealedTail = false;
  try {
    const fd = openLog(path);
    try {
      const size = fstatSync(fd).size;
      lastSeq = findChainEnd(fd, size).seq;
      // Without a key file: were the last rows sealed, or is the loss already recorded?
      // Then the key file was deleted, which "off" would hide. Only the last 64 KiB are read.
      const from = Math.max(0, size - 64 * 1024);
      if (kf === undefined) sealedTail = /"seal":"|"event":"audit\.seal\.lost"/.test(readAt(fd, from, size - from).toString('utf8'));
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if (!(err instanceof LsmError && err.code === 'not_found')) throw err;
  }
  const sealed = kf !== undefined && kf !== 'garbled';
  const written = sealed ? kf.nextSeq - 1 : 0;
  const state = !sealed ? (kf === 'garbled' ? 'garbled' : sealedTail ? 'lost' : 'off') : written > lastSeq ? 'rows_missing' : 'on';
  await record(ctx, { event: 'audit.seal.status', fields: { state, ...fileField(ctx, path) } }, { failClosed: false });
  if (format === 'json') {
    ctx.stdout.write(`${JSON.stringify({ state, key_file: keyPath, key_id: sealed ? kf.keyId : undefined, next_seq: sealed ? kf.nextSeq : undefined, last_seq: lastSeq })}\n`);
  } else if (state === 'off') {
    ctx.stdout.write(`sealing: off (no ${keyPath}); 'lsm audit seal init' starts it\n`);
  } else if (state === 'lost') {
    ctx.stdout.write(`sealing: lost: the log's last rows were sealed, but ${keyPath} is gone; 'lsm audit verify' tells more, and 'lsm audit seal init' starts a new key\n`);
  } else if (state === 'garbled') {
    ctx.stdout.write(`sealing: broken: ${keyPath} is not a seal key file; 'lsm audit verify' tells more\n`);
  } else if (sealed) {
    ctx.stdout.write(`sealing: on (key ${kf.keyId})\nkey file: ${keyPath}, next seq ${kf.nextSeq}\nlog: ends at seq ${lastSeq}\n`);
    if (state === 'rows_missing') ctx.stdout.write(`warning: the log ends before seq ${written}, which the key file counts: rows were cut off; 'lsm audit verify' tells more\n`);
  }
  return state === 'on' || state === 'off' ? 0 : 1;
}

// ---- for `lsm audit verify`

// In any case, with spaces or dashes between the groups (as it may be copied from paper): 56 characters after the seq.
const VK_IN_TEXT = /lsmvk1-\d+-(?:[ -]*[0-9A-Za-z]){56}/i;
/** A key file is a few lines: reading more (a link to /dev/zero) would only exhaust memory. */
const MAX_KEY_TEXT = 64 * 1024;

function readBounded(fd: number): string {
  const buf = Buffer.alloc(MAX_KEY_TEXT);
  let got = 0;
  for (;;) {
    const n = readSync(fd, buf, got, buf.length - got, null);
    if (n === 0 || (got += n) === buf.length) break;
  }
  return buf.toString('utf8', 0, got);
}

/** A key given as itself, as a file holding it (the saved output of seal init will do), or `-` for stdin. */
function readKey(value: string): VerificationKey {
  const v = value.trim();
  if (/^lsmvk1-/i.test(v)) return parseVerificationKey(v);
  let text: string;
  let fd = 0;
  try {
    if (v !== '-') fd = openSync(v, 'r');
    text = readBounded(fd);
  } catch (err) {
    if (errno(err) === 'ENOENT') throw usage(`--verification-key: neither a key (lsmvk1-…) nor an existing file: ${v}`);
    throw usage(`--verification-key: ${ioError('read', v === '-' ? 'stdin' : v, err).message}`);
  } finally {
    if (fd !== 0) closeSync(fd);
  }
  const m = VK_IN_TEXT.exec(text);
  if (!m) throw usage(`--verification-key: no verification key (lsmvk1-…) in ${v === '-' ? 'stdin' : v}`);
  return parseVerificationKey(m[0]);
}

export function verifyInputs(opts: Record<string, any>): { keys: VerificationKey[]; anchors?: AnchorSet } {
  const given: string[] = ([] as string[]).concat(opts.verificationKey ?? []);
  if (given.filter((g) => g.trim() === '-').length > 1) throw usage('--verification-key - can be given once (stdin is read once)');
  const keys = given.map(readKey);
  const anchors = opts.anchors ? readAnchors(opts.anchors, opts.anchorHost) : undefined;
  if (!opts.anchors && opts.anchorHost) throw usage('--anchor-host goes with --anchors');
  return { keys, anchors };
}
