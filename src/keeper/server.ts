import { closeSync, lstatSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { LsmError } from '../errors.js';
import { resolveHome, type Home } from '../home.js';
import { Output } from '../term/output.js';
import { captureActor, presetActor } from '../audit/actor.js';
import { record } from '../audit/record.js';
import { checkKey, checkName } from '../names.js';
import { holdCustody } from '../custody.js';
import { useFileMemo } from '../file-memo.js';
import { localVault } from '../local-vault.js';
import { stopRunningKeeper } from './stop-running.js';
import { describePeer, type Peer } from './peer.js';
import { checkConfig, inForceOf, loosenedBetween, readInForce, type InForce } from './config-watch.js';
import { ACK_EVENT, FOREIGN_EVENT, REWOUND_EVENT, UNCLEAN_EVENT, compareHead, headAfter, loadState, retirePlainSealKey, saveState, type KeeperState } from './state.js';
import { MAX_MESSAGE, PROTOCOL, socketPath, type Reply, type Request } from './protocol.js';
import { listen, type Connection, type Listener } from './listener.js';
import { ApprovalPending, Approvals, type Channel, type Rerun } from './approval.js';
import { processStart } from './grants.js';
import type { Context } from '../context.js';
import type { Identity } from '../identity.js';
import type { Platform } from '../platform.js';
import type { Target } from '../resolve.js';

/**
 * The keeper: a small, paranoid process that alone holds a protected home's identity
 * and seal key, decides, and records. It makes itself non-dumpable before it reads the
 * passphrase (so its memory, environment and descriptors are closed to the user's other
 * processes), takes the caller from the kernel, stamps time from its own clock, and is
 * the only writer of the home's audit log. It serves one request at a time; it dies
 * cleanly on a signal, at its idle or total lifetime, or when asked to lock.
 */
export interface KeeperOptions {
  ttlMs: number;
  idleMs: number;
  acknowledge: boolean;
  /** Rotate the home's key first (src/keeper/ops-rotate.ts), then serve with the new one. */
  rotate?: boolean;
  /** The delay of the head's checkpoint after an append (1 s). */
  checkpointMs?: number;
  /** The terminal and display of `lsm unlock`: where approvals are asked unless config.yaml says otherwise. */
  channel?: Channel;
  /** Shown in every approval prompt and told only to `lsm unlock`: a prompt without it is not this keeper's. */
  seal?: string;
}

/** Events only the keeper writes: a client's `record` may not name them. */
const RESERVED = /^(keeper\.|approval\.|config\.changed$|audit\.(rewound|foreign_append|acknowledged|repair|seal\.)|store\.)/;

class Captured extends Output {
  private readonly text: string[] = [];
  private readonly terminal: boolean;

  constructor(terminal: boolean) {
    super(-1);
    this.terminal = terminal;
  }

  override get isTTY(): boolean {
    return this.terminal;
  }

  override write(chunk: string | Uint8Array): boolean {
    this.text.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }

  override toString(): string {
    return this.text.join('');
  }
}

export function contextFor(home: Home, peer: Peer, tty: Request['tty'], project?: Request['project']): Context & { stderr: Captured } {
  const ctx = {
    home,
    flags: {},
    cwd: peer.cwd,
    env: peer.env,
    now: () => new Date(),
    get stdin(): NodeJS.ReadStream {
      throw new LsmError('internal', 'the keeper has no stdin of the caller');
    },
    stdout: new Captured(Boolean(tty?.stdout)),
    stderr: new Captured(Boolean(tty?.stderr)),
    argv: [],
    peer: peer.evidence,
    project: project && typeof project.file === 'string' && Array.isArray(project.chose) ? { file: project.file, chose: project.chose.filter((c): c is 'app' | 'env' => c === 'app' || c === 'env') } : undefined,
  };
  presetActor(ctx, peer.actor);
  return ctx;
}

/**
 * The keeper itself as an actor. Non-dumpable, it cannot open its own /proc/self/environ
 * as an ordinary user: built from its own process instead.
 */
export function selfPeer(): Peer {
  return {
    actor: captureActor({ env: process.env, cwd: process.cwd(), tty: '' }),
    cwd: process.cwd(),
    env: { ...process.env } as Record<string, string>,
    evidence: { source: 'keeper', keeper_pid: process.pid },
  };
}

function target(v: unknown): Target {
  const t = (v ?? {}) as Record<string, unknown>;
  return { app: checkName('app', String(t.app ?? '')), env: checkName('env', String(t.env ?? '')) };
}

/** `[app] [env]` as the caller gave them (either may be absent), resolved as the caller's own lsm would. */
async function chosen(ctx: Context, v: unknown): Promise<Target> {
  const w = plain(v);
  const name = (kind: 'app' | 'env') => (w[kind] === undefined || w[kind] === null ? undefined : checkName(kind, String(w[kind])));
  const app = name('app');
  const env = name('env');
  // Without the caller's cwd (its /proc link unreadable) no link or .lsm.yaml may be looked
  // for: a relative path would be the keeper's own directory, the home.
  if (!(app && env) && !ctx.cwd.startsWith('/')) {
    throw new LsmError('denied', "the keeper could not read the calling process's working directory, so it cannot choose the store", { hint: 'name the app and env: lsm get APP ENV KEY' });
  }
  const { resolveTarget } = await import('../resolve.js');
  return resolveTarget(ctx, { app, env, rest: [] });
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const plain = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export async function runKeeper(dir: string, opts: KeeperOptions): Promise<number> {
  const home = resolveHome(dir, {});
  const ready = (line: string) => {
    try {
      writeSync(1, `${line}\n`);
      closeSync(1);
    } catch { /* the unlocking process went away */ }
  };
  try {
    // SIGUSR1 would open Node's inspector on 127.0.0.1:9229, reachable by every local user,
    // from which the heap (and the key) can be read: a listener keeps it shut.
    process.on('SIGUSR1', () => {});
    const { loadPlatform } = await import('../platform.js');
    const platform = await loadPlatform();
    // Before the passphrase is read: from here on no process of the user can read this one's memory.
    const hardened = platform.harden();
    if (hardened.dumpable || platform.dumpable()) {
      throw new LsmError('platform', 'the keeper could not make itself non-dumpable (prctl PR_SET_DUMPABLE); it holds no key');
    }
    const secret = readFileSync(0);
    const locked = platform.mlock(secret);
    const { unlockIdentity } = await import('../protect.js');
    let id: Identity;
    let report: unknown;
    try {
      const passphrase = secret.toString('utf8').replace(/\r?\n$/, '');
      id = await unlockIdentity(home, passphrase);
      if (opts.rotate) {
        const { rotateProtected } = await import('./ops-rotate.js');
        const r = await rotateProtected(home, id, passphrase, () => contextFor(home, describePeer(process.ppid) ?? selfPeer(), undefined));
        id = r.next;
        report = r.report;
      }
    } finally {
      secret.fill(0);
    }
    const { promptSeal } = await import('./approval.js');
    const seal = promptSeal();
    const keeper = new Keeper(home, id, platform, { ...opts, seal }, { mlocked: locked });
    await keeper.start();
    // `ok PID {seal, applied, report}`: the seal its approval prompts show, told only to the
    // one who unlocked; the loosenings this passphrase put in force; what a rotation did.
    ready(`ok ${process.pid} ${JSON.stringify({ seal, applied: keeper.configApplied, ...(report !== undefined ? { report } : {}) })}`);
    return await keeper.done;
  } catch (err) {
    const e = err instanceof LsmError ? err : new LsmError('internal', `the keeper failed to start: ${err instanceof Error ? err.message : String(err)}`);
    ready(`error ${JSON.stringify({ code: e.code, message: e.message, hint: e.hint, exit: e.exit })}`);
    return e.exit;
  }
}

class Keeper {
  private server: Listener | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private inForce!: InForce;
  private state!: KeeperState;
  private idleTimer: NodeJS.Timeout | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly started = new Date();
  private idleDeadline = 0;
  private finish!: (code: number) => void;
  readonly done = new Promise<number>((r) => { this.finish = r; });
  private readonly uid: number;
  private approvals!: Approvals;

  constructor(
    private readonly home: Home,
    private identity: Identity | undefined,
    private readonly platform: Platform,
    private readonly opts: KeeperOptions,
    private readonly memory: { mlocked: boolean },
  ) {
    this.uid = platform.uid();
  }

  async start(): Promise<void> {
    const id = this.identity!;
    this.inForce = await readInForce(this.home);
    this.state = await loadState(this.home, id);
    if (this.state.running) this.unclean = { ...this.state.running, checkpoint_seq: this.state.head?.seq ?? 0 };
    this.state.running = { pid: process.pid, since: this.started.toISOString() };
    // What config.yaml now lets through that the config last in force did not: put in force by this passphrase.
    if (this.state.accepted !== undefined && this.state.accepted !== this.inForce.text) {
      this.appliedAtUnlock = loosenedBetween(await inForceOf(this.home, this.state.accepted), this.inForce);
    }
    this.state.accepted = this.inForce.text;
    this.approvals = new Approvals(this.home, this.opts.channel ?? {}, this.opts.seal ?? '', this.uid, () => this.inForce.text, async (pin) => {
      const { unlockIdentity } = await import('../protect.js');
      try {
        // The identity held, not merely a key.age that opens: the file may have been replaced.
        return (await unlockIdentity(this.home, pin)).identity === this.identity?.identity;
      } catch {
        return false;
      }
    });
    // What every request re-reads (config.yaml, the digest index, the stores), kept while the files stay as they are.
    useFileMemo(true);
    holdCustody({
      approver: this.approvals,
      identity: id,
      policy: async () => this.inForce.policy,
      configText: () => this.inForce.text,
      failOpen: () => this.inForce.failOpen,
      sealKey: {
        read: () => this.state.seal,
        write: (k) => {
          this.state.seal = k;
          this.scheduleSave();
        },
      },
      beforeAppend: (path, fd, size) => {
        if (path !== this.home.audit) return [];
        const c = compareHead(fd, size, this.state.head);
        const rows: Array<{ event: string; fields: Record<string, unknown> }> = [];
        if (c.rewound) rows.push({ event: REWOUND_EVENT, fields: c.rewound });
        if (this.unclean) {
          // Rows past the checkpoint are most likely the dead keeper's own last second: said
          // here, once, rather than as a foreign append.
          rows.push({ event: UNCLEAN_EVENT, fields: { previous_pid: this.unclean.pid, previous_since: this.unclean.since, checkpoint_seq: this.unclean.checkpoint_seq, ...(c.foreign ? { unvouched: c.foreign } : {}) } });
          this.unclean = undefined;
        } else if (c.foreign) {
          rows.push({ event: FOREIGN_EVENT, fields: c.foreign });
        }
        return rows;
      },
      configNote: () => this.configNote,
      appended: (path, seq, line, size) => {
        if (path !== this.home.audit) return;
        this.state.head = headAfter(size, seq, line);
        this.scheduleSave();
      },
    });
    await this.listen();
    // The unlock itself: recorded with the unlocking process as the actor.
    const self = describePeer(process.ppid) ?? selfPeer();
    {
      const ctx = contextFor(this.home, self, undefined);
      await record(ctx, {
        event: 'keeper.unlock',
        fields: {
          keeper_pid: process.pid, ttl_s: Math.round(this.opts.ttlMs / 1000), idle_s: Math.round(this.opts.idleMs / 1000), mlocked: this.memory.mlocked,
          ...(this.appliedAtUnlock.length > 0 ? { config_applied: this.appliedAtUnlock, config_sha256: this.inForce.digest } : {}),
        },
      }, { failClosed: true });
      if (this.opts.acknowledge) {
        await record(ctx, { event: ACK_EVENT, fields: { through_seq: this.state.head?.seq ?? 0 } }, { failClosed: true });
      }
    }
    await saveState(this.home, id, this.state);
    retirePlainSealKey(this.home);
    this.ttlTimer = setTimeout(() => void this.stop('ttl'), this.opts.ttlMs);
    this.touch();
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void this.stop(`signal ${sig}`));
  }

  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleDeadline = Date.now() + this.opts.idleMs;
    this.idleTimer = setTimeout(() => void this.stop('idle'), this.opts.idleMs);
  }

  private scheduleSave(): void {
    // Checkpointed a moment after the last append, not on each: the log row is durable
    // already, and a checkpoint behind the log is caught up (the seal key evolves forward).
    if (this.saveTimer || !this.identity) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      if (this.identity) void saveState(this.home, this.identity, this.state).catch(() => {});
    }, this.opts.checkpointMs ?? 1000);
  }

  private async listen(): Promise<void> {
    const path = socketPath(this.home);
    await stopRunningKeeper(this.home, 'replaced');
    const old = process.umask(0o177);
    let server: Listener;
    try {
      server = await listen(path, MAX_MESSAGE, (conn) => this.accept(conn));
    } finally {
      process.umask(old);
    }
    this.server = server;
    this.socketIno = lstatSync(path).ino;
    // A relay put on the path (the socket renamed away, another bound in its place) would
    // see every request in the clear: noticed at the next request and every few seconds.
    setInterval(() => this.checkSocket(), 5000).unref();
  }

  private socketIno = 0;

  private checkSocket(): void {
    if (this.stopping) return;
    let ino = -1;
    try { ino = lstatSync(socketPath(this.home)).ino; } catch { /* gone */ }
    if (ino === this.socketIno) return;
    // Recorded, then locked: what comes through a socket that is not ours is not answered.
    void record(contextFor(this.home, selfPeer(), undefined), { event: 'keeper.socket_moved', fields: { expected_ino: this.socketIno, found_ino: ino } }, { failClosed: false })
      .finally(() => void this.stop('socket moved'));
    throw new LsmError('keeper_locked', 'the keeper socket was moved or replaced; the keeper locked itself', { exit: 5, hint: "look at 'lsm audit tail', then 'lsm unlock'" });
  }

  private accept(conn: Connection): void {
    // Synchronously, while the descriptor is the one accepted.
    const cred = conn.fd >= 0 ? this.platform.peer(conn.fd) : undefined;
    if (!cred || cred.uid !== this.uid || this.stopping) {
      if (cred?.pidfd !== undefined) this.platform.closeFd(cred.pidfd);
      conn.destroy();
      return;
    }
    // The caller's /proc is read now, while its request is still on the way (the client
    // connects before it builds its request), instead of after it arrived; the pidfd is
    // checked against it in handle(), after the reading, as before.
    let early: { peer: Peer | undefined } | undefined;
    try { early = { peer: describePeer(cred.pid) }; } catch { early = undefined; }
    conn.onRequest((data) => {
      if (!data) {
        if (cred.pidfd !== undefined) this.platform.closeFd(cred.pidfd);
        return;
      }
      let req: Request | undefined;
      try {
        req = JSON.parse(data.toString('utf8')) as Request;
      } catch { /* answered below */ }
      const run = (r: Request | undefined, rerun?: Rerun) => async (): Promise<Reply | ApprovalPending> => {
        try {
          if (!r) return { ok: false, error: { code: 'usage', message: 'the keeper got a request that is not JSON', exit: 2 } };
          // A put-aside request runs again once the user answered, maybe minutes later: its caller is read then.
          const seen = rerun ? undefined : early;
          early = undefined;
          return await this.handle(cred.pid, cred.pidfd, r, rerun, seen);
        } catch {
          return { ok: false, error: { code: 'internal', message: 'the keeper failed to serve the request', exit: 1 } };
        }
      };
      const enqueue = (r: Request | undefined, rerun?: Rerun) => {
        const job = this.queue.then(run(r, rerun), run(r, rerun));
        this.queue = job.catch(() => {});
        return job;
      };
      void (async () => {
        try {
          let reply: Reply | ApprovalPending;
          if (req?.op === 'approval.await') {
            // Waits outside the queue for the answer, then runs the put-aside request through it.
            reply = await this.claimApproval(cred.pid, cred.pidfd, req, (r, rerun) => enqueue(r, rerun));
            if (reply instanceof ApprovalPending) reply = { ok: false, error: { code: 'internal', message: 'the keeper asked twice for one request', exit: 1 } };
          } else {
            reply = await enqueue(req);
            if (reply instanceof ApprovalPending) reply = this.putAside(reply, cred.pid, req!);
          }
          if (!conn.destroyed) conn.reply(`${JSON.stringify(reply)}\n`);
          if (reply.ok && this.stopAfter) void this.stop(this.stopAfter);
        } finally {
          if (cred.pidfd !== undefined) this.platform.closeFd(cred.pidfd);
        }
      })();
    });
  }

  /** Approvals being asked, by ticket: the asking process (pid and start time), its request, the answer to come. */
  private readonly asked = new Map<string, { pid: number; start: string; req: Request; answer: Promise<Rerun> }>();

  /**
   * A request the policy says to ask about: the prompt starts now, outside the queue, and
   * the client is told at once what it waits for and with which ticket to wait.
   */
  private putAside(p: ApprovalPending, pid: number, req: Request): Reply {
    const ticket = randomBytes(16).toString('hex');
    const start = processStart(pid);
    const gone = new AbortController();
    // The asking process gone (killed while it waits): its prompt is closed.
    const watch = setInterval(() => { if (processStart(pid) !== start) gone.abort(); }, 1000);
    watch.unref();
    const answer = this.approvals.ask(p, gone.signal).finally(() => clearInterval(watch));
    const entry = { pid, start, req, answer };
    this.asked.set(ticket, entry);
    void answer.then((a) => {
      // Never claimed (the client died): dropped, and recorded, a while after the answer.
      setTimeout(() => {
        if (this.asked.get(ticket) !== entry) return;
        this.asked.delete(ticket);
        void record(contextFor(this.home, selfPeer(), undefined), { event: `approval.${a.outcome}`, app: a.shown.app, env: a.shown.env, fields: { request: a.code, channel: a.channel, keys: a.shown.keys, unclaimed: true, ...(a.why ? { why: a.why } : {}) } }, { failClosed: false }).catch(() => {});
      }, 30_000).unref();
    });
    return {
      ok: false,
      error: { code: 'denied', message: `waiting for approval (request ${p.code}) on ${p.channel}, which this lsm cannot wait for`, hint: 'this lsm is older than its keeper: restart the keeper with the same lsm', exit: 4 },
      stderr: p.stderr,
      pending: { request: p.code, channel: p.channel, wait_ms: p.timeoutMs, ticket },
    };
  }

  private async claimApproval(pid: number, pidfd: number | undefined, req: Request, enqueue: (r: Request, rerun: Rerun) => Promise<Reply | ApprovalPending>): Promise<Reply | ApprovalPending> {
    const ticket = str(plain(req.args).ticket);
    const entry = ticket ? this.asked.get(ticket) : undefined;
    // The ticket is the asking process's own: another process that learns it claims nothing.
    const same = entry && entry.pid === pid && processStart(pid) === entry.start && (pidfd === undefined || this.platform.pidfdPid(pidfd) === pid);
    if (!entry || !same || !ticket) return { ok: false, error: { code: 'denied', message: 'no approval is being asked for this process', exit: 4 } };
    this.asked.delete(ticket);
    return enqueue(entry.req, await entry.answer);
  }

  private stopAfter: string | undefined;
  /** Loosenings of config.yaml since the keeper before, put in force by this unlock's passphrase. */
  private appliedAtUnlock: string[] = [];

  get configApplied(): readonly string[] {
    return this.appliedAtUnlock;
  }
  /** The keeper before this one ended without locking (its state still said running). */
  private unclean: { pid: number; since: string; checkpoint_seq: number } | undefined;
  private configNote: Record<string, unknown> | undefined;
  /** Loosenings of config.yaml seen and not applied: they wait for the passphrase. */
  private readonly pending: string[] = [];

  private async handle(pid: number, pidfd: number | undefined, req: Request, rerun?: Rerun, early?: { peer: Peer | undefined }): Promise<Reply | ApprovalPending> {
    let ctx: (Context & { stderr: Captured }) | undefined;
    try {
      if (req?.v !== PROTOCOL) throw new LsmError('usage', `the keeper speaks protocol ${PROTOCOL}; this lsm speaks ${String(req?.v)}`, { hint: "restart it with the same lsm: 'lsm keeper stop' then 'lsm unlock'" });
      if (!this.identity) throw new LsmError('keeper_locked', 'the keeper is locking', { exit: 5 });
      this.checkSocket();
      this.touch();
      let peer = early ? early.peer : describePeer(pid);
      // The pid may have died and been reused while /proc was read: the pidfd says whether what was read is the caller's.
      if (peer && pidfd !== undefined && this.platform.pidfdPid(pidfd) !== pid) peer = undefined;
      if (!peer) {
        // A keeper taking over is non-dumpable, so its /proc is closed to this one; stopping
        // needs no more than the uid (any process of the user can kill the keeper anyway).
        if (req.op !== 'stop' && req.op !== 'status') {
          throw new LsmError('denied', 'the keeper could not identify the calling process (it exited, or its /proc is unreadable)');
        }
        peer = selfPeer();
        peer.evidence = { ...peer.evidence, caller_pid: pid, caller_unreadable: true };
      }
      ctx = contextFor(this.home, peer, req.tty, req.project);
      await this.watchConfig(ctx);
      this.approvals.rerun = rerun;
      const result = await this.dispatch(ctx, req.op, (req.args ?? {}) as Record<string, unknown>);
      return { ok: true, result: result ?? null, stderr: ctx.stderr.toString() || undefined };
    } catch (err) {
      if (err instanceof ApprovalPending) {
        err.stderr = ctx?.stderr.toString() || undefined;
        return err;
      }
      const e = err instanceof LsmError ? err : new LsmError('internal', 'the keeper failed to serve the request');
      return { ok: false, error: { code: e.code, message: e.message, hint: e.hint, exit: e.exit }, stderr: ctx?.stderr.toString() || undefined };
    } finally {
      // An answer is for the one run it was given to.
      this.approvals.rerun = undefined;
    }
  }

  private async watchConfig(ctx: Context): Promise<void> {
    const seen = await checkConfig(this.home, this.inForce);
    if (!seen) return;
    const { change, next } = seen;
    this.inForce = next;
    if (change.applied) {
      this.state.accepted = next.text;
      this.scheduleSave();
    }
    // The row itself is the log's (appendEvent writes config.changed at the next access, as in
    // every home); the keeper adds whether it applied the change and what waits for the passphrase.
    this.configNote = { applied: change.applied, sections: change.sections, ...(change.applied ? {} : { held_back: change.loosened }) };
    await record(ctx, { event: 'keeper.config', fields: { config_sha256: change.digest, applied: change.applied } }, { failClosed: true });
    if (!change.applied) {
      this.pending.push(...change.loosened);
      ctx.stderr.write(`lsm: config.yaml was changed to loosen ${change.loosened.join('; ')}; that takes effect only after 'lsm unlock' (the change is recorded)\n`);
    }
  }

  private async dispatch(ctx: Context, op: string, a: Record<string, unknown>): Promise<unknown> {
    const vault = localVault(ctx);
    switch (op) {
      case 'status':
        return this.status();
      case 'config':
        return (await import('./client-config.js')).clientConfig(this.home);
      case 'lock':
      case 'stop':
        this.stopAfter = op === 'lock' ? 'lock requested' : `stop requested${str(a.reason) ? ` (${str(a.reason)})` : ''}`;
        return this.status();
      case 'get':
        // The store is chosen here, from the caller's cwd (/proc): the client reads no config.
        return vault.get(a.want ? await chosen(ctx, a.want) : target(a.target), checkKey(String(a.key ?? '')), str(a.reason));
      case 'list':
        return vault.list(target(a.target));
      case 'set':
        return vault.set(target(a.target), checkKey(String(a.key ?? '')), String(a.value ?? ''), str(a.source) ?? 'argv');
      case 'delete':
        return vault.delete(target(a.target), checkKey(String(a.key ?? '')));
      case 'exec': {
        const r = (a.req ?? {}) as Record<string, unknown>;
        const only = Array.isArray(r.only) ? r.only.map((k) => checkKey(String(k))) : undefined;
        return vault.openExec(target(a.target), {
          program: String(r.program ?? ''),
          path: String(r.path ?? ''),
          pristine: r.pristine === true,
          only,
          mask: typeof r.mask === 'boolean' ? r.mask : undefined,
          withCanaries: r.withCanaries === true,
          reason: str(r.reason),
        });
      }
      case 'reveal': {
        const r = (a.req ?? {}) as Record<string, unknown>;
        const command = r.command === 'gh_push' ? 'gh_push' : r.command === 'dump' ? 'dump' : undefined;
        const event = command === 'gh_push' ? 'gh_push_intent' : 'dump';
        if (!command) throw new LsmError('usage', 'reveal is for dump and gh push');
        return vault.reveal(target(a.target), { command, event, fields: plain(r.fields), withCanaries: r.withCanaries === true, reason: str(r.reason) });
      }
      case 'import': {
        const r = (a.req ?? {}) as Record<string, unknown>;
        return vault.importText(target(a.target), { text: String(r.text ?? ''), label: String(r.label ?? '-'), fields: plain(r.fields), dryRun: r.dryRun === true });
      }
      case 'canary': {
        const r = (a.req ?? {}) as Record<string, unknown>;
        const name = checkKey(String(r.name ?? ''));
        if (r.action === 'remove') return vault.canary(target(a.target), { action: 'remove', name });
        const { checkKind } = await import('../canary.js');
        return vault.canary(target(a.target), { action: 'add', name, like: checkKind(String(r.like ?? 'generic')) });
      }
      case 'seal.init': {
        const { startSealing } = await import('../audit/seal-start.js');
        const { actorOf } = await import('../audit/actor.js');
        return startSealing(this.home.audit, this.state.seal, {
          force: a.force === true, keyPath: 'the keeper', now: ctx.now, actor: actorOf(ctx), fields: { peer: ctx.peer },
        });
      }
      case 'seal.status':
        return this.state.seal ? { keyId: this.state.seal.keyId, nextSeq: this.state.seal.nextSeq } : null;
      case 'record': {
        const input = (a.input ?? {}) as Record<string, unknown>;
        const event = String(input.event ?? '');
        if (!/^[a-z][a-z0-9_.-]{0,63}$/.test(event) || RESERVED.test(event)) {
          throw new LsmError('denied', `the keeper records ${JSON.stringify(event)} only on its own account`);
        }
        const fields = input.fields && typeof input.fields === 'object' && !Array.isArray(input.fields) ? (input.fields as Record<string, unknown>) : {};
        const t: { app?: string; env?: string } = {};
        if (input.app !== undefined) t.app = checkName('app', String(input.app));
        if (input.env !== undefined) t.env = checkName('env', String(input.env));
        const outcome = input.outcome === 'denied' || input.outcome === 'error' ? input.outcome : 'ok';
        await record(ctx, { event, ...t, outcome, fields: { ...fields, claimed: true } }, { failClosed: a.failClosed === true });
        return null;
      }
      case 'edit.open':
      case 'edit.save':
      case 'clean.judge':
      case 'clean.remove':
      case 'gh.names':
        return (await import('./ops-commands.js')).commandOp(vault, op, a);
      default:
        throw new LsmError('usage', `the keeper has no operation ${JSON.stringify(op)}`, { hint: 'the keeper and this lsm are different versions: restart the keeper' });
    }
  }

  private status(): Record<string, unknown> {
    return {
      running: true,
      locked: !this.identity,
      pid: process.pid,
      socket: socketPath(this.home),
      dumpable: this.platform.dumpable(),
      mlocked: this.memory.mlocked,
      started: this.started.toISOString(),
      expires: new Date(this.started.getTime() + this.opts.ttlMs).toISOString(),
      idle_expires: new Date(this.idleDeadline).toISOString(),
      config_pending: [...new Set(this.pending)],
      config_applied: this.appliedAtUnlock,
      approval_channel: this.approvals?.channelText() ?? null,
    };
  }

  async stop(reason: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.ttlTimer);
    clearTimeout(this.saveTimer);
    this.server?.close();
    this.approvals?.close();
    await this.queue;
    const id = this.identity;
    try {
      if (id) await record(contextFor(this.home, selfPeer(), undefined), { event: 'keeper.lock', fields: { reason } }, { failClosed: false });
      this.state.running = undefined;
      if (id) await saveState(this.home, id, this.state);
    } catch { /* the log says what it could */ }
    holdCustody(undefined);
    // The plaintext of the stores read goes with the key.
    useFileMemo(false);
    this.approvals?.close();
    this.identity = undefined;
    // Only our own: once the listener closed, a keeper taking over may have bound its socket there.
    try {
      const path = socketPath(this.home);
      if (lstatSync(path).ino === this.socketIno) unlinkSync(path);
    } catch { /* gone */ }
    this.finish(0);
  }
}
