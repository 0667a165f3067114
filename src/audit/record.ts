import { existsSync } from 'node:fs';
import { LsmError } from '../errors.js';
import { readConfig, setting } from '../config.js';
import type { Context } from '../context.js';
import { actorOf } from './actor.js';
import { afterAppend } from './hooks.js';
import { appendEvent, appendFailure, type EventInput } from './log.js';
import { shipAfterAppend } from './trigger.js'; // OTLP mirror
import { custody } from '../custody.js';
import { isProtected } from '../vault.js';

export type { EventInput } from './log.js';

export interface RecordOptions {
  /**
   * The command reveals or changes secrets: when the event cannot be written it must
   * not go ahead, unless config.yaml says `audit: {on_failure: open}`.
   */
  failClosed: boolean;
}

// Read only when an append has failed: the common path never parses config.yaml.
async function failsOpen(ctx: Context): Promise<boolean> {
  const held = custody();
  if (held) return held.failOpen();
  try {
    const value = setting((await readConfig(ctx.home)).tree, 'audit', 'on_failure');
    return typeof value === 'string' && value.trim().toLowerCase() === 'open';
  } catch {
    return false;
  }
}

/**
 * Records one event of the running command in the home's audit log. Call it before
 * revealing a value: with `failClosed` a failed append throws LsmError('audit') and the
 * command must stop; otherwise (or with `on_failure: open`) it warns on stderr. A home
 * that does not exist yet holds no secrets, so there is nothing to record into.
 */
export async function record(ctx: Context, input: EventInput, opts: RecordOptions): Promise<void> {
  const path = ctx.home.audit;
  if (!existsSync(ctx.home.dir)) return;
  // A protected home's log has one writer, the keeper, which stamps the time and the actor itself.
  if (!custody() && isProtected(ctx.home)) return recordThroughKeeper(ctx, input, opts);
  if (ctx.peer) input = { ...input, fields: { ...input.fields, peer: ctx.peer } };
  let row;
  try {
    // Which project file chose the store is part of every event about that store.
    const chosen = ctx.project && input.app ? { ...input, fields: { ...input.fields, project_file: ctx.project.file, project_chose: ctx.project.chose } } : input;
    row = appendEvent(path, chosen, { now: ctx.now, actor: actorOf(ctx), configPath: ctx.home.config });
  } catch (err) {
    const why = appendFailure(err);
    if (opts.failClosed && !(await failsOpen(ctx))) {
      // The way round the record is for the person at the terminal, not a hint to an agent or a script.
      const a = actorOf(ctx);
      const human = !a.agent_marker && a.tty !== '' && a.tty !== '/dev/null';
      throw new LsmError('audit', `cannot record the audit event in ${path}: ${why}; nothing was revealed or changed`, {
        cause: err,
        hint: human
          ? `fix the cause, or set 'audit: {on_failure: open}' in ${ctx.home.config} to go on with a warning (the access then leaves no trace)`
          : 'fix the cause, then run the command again',
      });
    }
    ctx.stderr.write(`lsm: warning: cannot record the audit event in ${path}: ${why}\n`);
    return;
  }
  await afterAppend(ctx, row);
  // starts a detached `lsm audit ship` when shipping is on; never waits or throws.
  await shipAfterAppend(ctx, row);
}

async function recordThroughKeeper(ctx: Context, input: EventInput, opts: RecordOptions): Promise<void> {
  const { callKeeper } = await import('../keeper/client.js');
  try {
    await callKeeper(ctx, 'record', { input, failClosed: opts.failClosed });
  } catch (err) {
    // Nothing is revealed or changed without the keeper; an event of a command that
    // reveals nothing (link, apps, the audit readers) is simply not written while locked.
    if (opts.failClosed) throw err;
    if (err instanceof LsmError && err.code === 'keeper_locked') return;
    ctx.stderr.write(`lsm: warning: the keeper did not record the event: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}
