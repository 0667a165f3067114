import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { LsmError, EXIT } from './errors.js';
import { shown } from './names.js';
import { loadStore, storePath, warnTo } from './store.js';
import { record } from './audit/record.js';
import { enforceEgress, guardExec } from './policy.js';
import { canaryNames, generate, readRegistry, recordCanaryReads, updateRegistry, type Canary } from './canary.js';
import { changeStore, identityOf } from './commands/common.js';
import type { Context } from './context.js';
import type { Target } from './resolve.js';
import { getSecret, noKey, noStore } from './local-get.js';
import type { CanaryRequest, ExecOpened, ExecRequest, ImportRequest, ImportResult, RevealRequest, Revealed, Vault } from './vault.js';

/**
 * The operations on secrets where the key is: in an unprotected home's lsm process,
 * or inside the keeper, run against a context whose clock and actor are the keeper's.
 */
export function localVault(ctx: Context): Vault {
  return {
    get: (target, key, reason) => getSecret(ctx, target, key, reason),
    list: (target) => list(ctx, target),
    set: (target, key, value, source) => set(ctx, target, key, value, source),
    delete: (target, key) => del(ctx, target, key),
    openExec: (target, req) => openExec(ctx, target, req),
    reveal: (target, req) => reveal(ctx, target, req),
    importText: (target, req) => importText(ctx, target, req),
    canary: (target, req) => canary(ctx, target, req),
    openEdit: async (target, req) => (await import('./edit-store.js')).openEdit(ctx, target, req),
    saveEdit: async (target, req) => (await import('./edit-store.js')).saveEdit(ctx, target, req),
    judgeClean: async (target) => (await import('./clean-judge.js')).judgeClean(ctx, target),
    removeClean: async (target, req) => (await import('./clean-judge.js')).removeClean(ctx, target, req),
    ghNames: async (target, req) => (await import('./gh-names.js')).ghNames(ctx, target, req),
  };
}


async function list(ctx: Context, target: Target): Promise<string[]> {
  const id = await identityOf(ctx);
  const { doc, exists } = await loadStore(ctx.home, target, id, { warn: warnTo(ctx) });
  const keys = doc.keys();
  // A store that does not exist is an error, as for get, exec and dump: a typo in an
  // app or env name must not look like an empty store.
  if (!exists) {
    await record(ctx, { event: 'list', ...target, outcome: 'error', fields: { count: 0, reason: 'no_store' } }, { failClosed: false });
    throw new LsmError('not_found', `no store for ${target.app}/${target.env}`, { hint: `'lsm envs ${target.app}' lists its environments; 'lsm set ${target.app} ${target.env} KEY' creates it` });
  }
  await record(ctx, { event: 'list', ...target, fields: { count: keys.length } }, { failClosed: false });
  return keys;
}

type SetAction = 'added' | 'changed' | 'unchanged';

async function set(ctx: Context, target: Target, key: string, value: string, source: string): Promise<SetAction> {
  const id = await identityOf(ctx);
  if (value.includes('\0')) {
    throw new LsmError('usage', 'the value contains a NUL byte', { hint: 'environment variables cannot hold NUL bytes; store binary data base64-encoded' });
  }
  const action = await changeStore<SetAction>(ctx, target, id, 'set', (a) => ({ key, action: a, source }), (doc) => {
    const a = doc.set(key, value);
    return { changed: a !== 'unchanged', result: a };
  });
  if (action === 'unchanged') {
    await record(ctx, { event: 'set', ...target, fields: { key, action, source } }, { failClosed: false });
  }
  return action;
}

async function del(ctx: Context, target: Target, key: string): Promise<void> {
  const id = await identityOf(ctx);
  if (!existsSync(storePath(ctx.home, target))) {
    await record(ctx, { event: 'delete', ...target, outcome: 'error', fields: { key, reason: 'no_store' } }, { failClosed: false });
    throw noStore(target);
  }
  const found = await changeStore(ctx, target, id, 'delete', () => ({ key }), (doc) =>
    doc.has(key) ? { changed: doc.delete(key), result: true } : { changed: false, result: false });
  if (!found) {
    await record(ctx, { event: 'delete', ...target, outcome: 'error', fields: { key, reason: 'not_found' } }, { failClosed: false });
    throw noKey(target, key);
  }
}

async function openExec(ctx: Context, target: Target, req: ExecRequest): Promise<ExecOpened> {
  const [{ childEnv }, { findOnPath }] = await Promise.all([import('./commands/exec.js'), import('./command-path.js')]);
  const id = await identityOf(ctx);
  const { doc, exists } = await loadStore(ctx.home, target, id, { warn: warnTo(ctx) });
  const program = basename(req.program);
  const fail = async (reason: string, err: LsmError): Promise<never> => {
    await record(ctx, { event: 'exec', ...target, outcome: 'error', fields: { program, reason } }, { failClosed: false });
    throw err;
  };
  if (!exists) return fail('no_store', noStore(target));
  const secrets = doc.toMap();
  const only = req.only;
  if (only) {
    const missing = only.filter((k) => !secrets.has(k));
    if (missing.length > 0) return fail('key_missing', new LsmError('not_found', `not in ${target.app}/${target.env}: ${missing.join(', ')}`));
    for (const k of [...secrets.keys()]) if (!only.includes(k)) secrets.delete(k);
  }
  const nul = [...secrets].filter(([, v]) => v.includes('\0')).map(([k]) => k);
  if (nul.length > 0) return fail('nul', new LsmError('usage', `the value of ${nul.join(', ')} contains a NUL byte, which an environment cannot hold`));

  // canaries left out unless asked for; masking decided; unmasked output checked against the policy.
  const guard = await guardExec(ctx, target, secrets, { mask: req.mask, withCanaries: req.withCanaries, only, reason: req.reason, program });
  // Looked up in the PATH the command will get: a secret named PATH, or --pristine, changes it.
  const path = childEnv({ PATH: req.path }, secrets, false).PATH ?? '';
  const file = findOnPath(req.program, path, ctx.cwd);
  if (file === undefined) return fail('not_found', notFound(req.program));
  if (file === null) return fail('not_executable', notExecutable(req.program));
  // Recorded before the secrets leave lsm: a run that cannot be recorded does not happen.
  await record(ctx, {
    event: 'exec', ...target,
    fields: { program, keys: [...secrets.keys()], only: only !== undefined, pristine: req.pristine, ...guard.fields },
  }, { failClosed: true });
  await recordCanaryReads(ctx, target, guard.canaries, 'exec');
  return { file, secrets: [...secrets], guard };
}

export function notFound(name: string): LsmError {
  return new LsmError('exec', `command not found: ${shown(name)}`, {
    exit: EXIT.notFound,
    hint: name.includes('/') ? undefined : 'it is looked up in the PATH the command would get (a secret named PATH, or --pristine, changes it)',
  });
}

export function notExecutable(name: string): LsmError {
  return new LsmError('exec', `cannot run ${shown(name)}: permission denied`, { exit: 126 });
}

async function reveal(ctx: Context, target: Target, req: RevealRequest): Promise<Revealed> {
  const id = await identityOf(ctx);
  const { doc: stored, exists } = await loadStore(ctx.home, target, id, { warn: warnTo(ctx) });
  if (!exists) throw noStore(target);
  const { parseEnv } = await import('./dotenv.js');
  const names = req.withCanaries ? new Set<string>() : canaryNames(ctx.home, target, (m) => ctx.stderr.write(m));
  // A dumped .env is the owner's working copy and a push lands in CI: a decoy there would
  // raise the alarm against the owner. Left out silently, as in exec.
  const doc = stored.keys().some((k) => names.has(k)) ? parseEnv(stored.serialize()) : stored;
  for (const k of doc.keys()) if (names.has(k)) doc.delete(k);
  const keys = doc.keys();
  // A push names what it sends as gh receives it (`names`, byte order) and sends nothing from an empty store.
  const push = req.command === 'gh_push';
  if (keys.length === 0) {
    if (push) throw (await import('./github.js')).emptyStore(target);
    await record(ctx, { event: req.event, ...target, fields: { ...req.fields, count: 0 } }, { failClosed: false });
    return { text: '', keys, fields: {} };
  }
  const listed = push ? { names: [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) } : { keys };
  const egress = await enforceEgress(ctx, { command: req.command, target, fields: { ...req.fields, ...listed, count: keys.length }, keys, reason: req.reason });
  // Recorded before the plaintext leaves: a reveal that cannot be recorded does not happen.
  await record(ctx, { event: req.event, ...target, fields: { ...req.fields, ...listed, count: keys.length, ...egress.fields } }, { failClosed: true });
  await recordCanaryReads(ctx, target, egress.canaries, req.command);
  return { text: doc.serialize(), keys, fields: egress.fields };
}

async function importText(ctx: Context, target: Target, req: ImportRequest): Promise<ImportResult> {
  const id = await identityOf(ctx);
  const { parseEnv } = await import('./dotenv.js');
  const incoming = parseEnv(req.text, req.label);
  const keys = incoming.keys();
  const tally: ImportResult = { added: [], changed: [], unchanged: [], comments: 0 };
  const counts = () => ({ added: tally.added.length, changed: tally.changed.length, unchanged: tally.unchanged.length });
  if (req.dryRun) {
    const { doc } = await loadStore(ctx.home, target, id, { warn: warnTo(ctx) });
    tally.lines = [];
    for (const [k, v] of incoming.entries()) {
      const cur = doc.get(k);
      const kind = cur === undefined ? 'added' : cur === v ? 'unchanged' : 'changed';
      tally[kind].push(k);
      tally.lines.push(`${kind === 'added' ? '+' : kind === 'changed' ? '~' : '='} ${k}`);
    }
    // `=` against `~` tells whether a value equals the stored one: a read, recorded.
    await record(ctx, { event: 'import', ...target, fields: { ...req.fields, dry_run: true, ...counts(), keys } }, { failClosed: true });
    return tally;
  }
  const fields = () => ({ ...req.fields, ...counts(), comments: tally.comments, keys });
  await changeStore(ctx, target, id, 'import', fields, (doc) => {
    const merged = doc.merge(incoming);
    for (const [k, r] of merged.results) tally[r].push(k);
    tally.comments = merged.comments;
    return { changed: tally.added.length + tally.changed.length + tally.comments > 0, result: undefined };
  });
  // changeStore records only a store that changed. An import that changed nothing still
  // told whether the file's values equal the stored ones: recorded before that is printed.
  if (tally.added.length + tally.changed.length + tally.comments === 0) await record(ctx, { event: 'import', ...target, fields: fields() }, { failClosed: true });
  return tally;
}

function same(a: Canary, b: { app: string; env: string; name: string }): boolean {
  return a.app === b.app && a.env === b.env && a.name === b.name;
}

/** A decoy added to a store or taken out of it, with its registry entry (names only, never the value). */
async function canary(ctx: Context, target: Target, req: CanaryRequest): Promise<void> {
  const id = await identityOf(ctx);
  const { name } = req;
  if (req.action === 'add') {
    const like = req.like;
    const exists = () => new LsmError('exists', `${name} already exists in ${target.app}/${target.env}; a canary never replaces a secret`, {
      hint: 'choose a name the store does not have (a tempting one: AWS_SECRET_ACCESS_KEY, STRIPE_LIVE_KEY...)',
    });
    const { doc } = await loadStore(ctx.home, target, id, { warn: warnTo(ctx) });
    if (doc.has(name)) throw exists();
    // Registered before it is stored, so the decoy is never in a store unregistered.
    const entry: Canary = { ...target, name, like, created: ctx.now().toISOString() };
    await updateRegistry(ctx.home, (list) => ({ list: [...list.filter((c) => !same(c, entry)), entry], result: undefined }));
    try {
      await changeStore(ctx, target, id, 'canary.add', () => ({ key: name, like }), (d) => {
        if (d.has(name)) throw exists();
        d.set(name, generate(like, name));
        return { changed: true, result: undefined };
      });
    } catch (err) {
      await updateRegistry(ctx.home, (list) => ({ list: list.filter((c) => !same(c, entry)), result: undefined })).catch(() => {});
      throw err;
    }
    return;
  }
  const key = { ...target, name };
  if (!readRegistry(ctx.home).some((c) => same(c, key))) {
    await record(ctx, { event: 'canary.remove', ...target, outcome: 'error', fields: { key: name, reason: 'not_found' } }, { failClosed: false });
    throw new LsmError('not_found', `${name} is not a canary of ${target.app}/${target.env}`, { hint: "'lsm canary list' shows them" });
  }
  // The decoy goes first: a registry entry without its key is harmless, a decoy without an entry is not.
  const inStore = await changeStore(ctx, target, id, 'canary.remove', () => ({ key: name }), (d) => {
    const had = d.delete(name);
    return { changed: had, result: had };
  });
  await updateRegistry(ctx.home, (list) => ({ list: list.filter((c) => !same(c, key)), result: undefined }));
  if (!inStore) await record(ctx, { event: 'canary.remove', ...target, fields: { key: name, in_store: false } }, { failClosed: false });
}
