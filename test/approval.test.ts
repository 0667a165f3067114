import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, initHome, lsm, lsmCommand, tempDir } from './helpers.ts';
import { runAs, skip as unprivSkip, spawnAs, unprivilegedHome } from './unprivileged.ts';

/**
 * The `ask` decision, end to end as an ordinary user (root would read every /proc and
 * pass every same-user check by capability). The approval is the user's passphrase typed
 * into a pinentry the keeper starts; the fake pinentry here answers what ./mode says
 * (the right passphrase, a wrong one, OK without one, cancel, or nothing at all), and a
 * real pinentry-curses is driven under tmux at the end.
 */
const PASS = 'approval passphrase 9 lives';
const CANARY = 'ap-canary-3b71e0d9a2';
const dirs: string[] = [];
after(() => {
  for (const h of homes) as(h, ['keeper', 'stop']);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// The fake pinentry must be a program the subject user cannot write (the keeper refuses
// one it could: an agent would swap it for one that keeps what the user types): root's.
const skip = unprivSkip ?? (process.getuid?.() !== 0 ? 'needs root, to give the subject user a pinentry it cannot write' : undefined);

const homes: string[] = [];

function as(home: string, args: string[], o: { env?: Record<string, string | undefined>; input?: string; timeout?: number } = {}): { code: number | null; stdout: string; stderr: string } {
  const [cmd, pre] = lsmCommand();
  const r = runAs(cmd, [...pre, ...args], { env: cleanEnv({ LSM_DIR: home, HOME: home, ...o.env }), input: o.input ?? '', cwd: join(home, '..'), timeout: o.timeout ?? 60_000 });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

const AGENT = { CLAUDECODE: '1' };

/** The fake pinentry's directory: root's, 0755; its log directory is writable by the subject. */
let pe = '';
function fakePinentry(): string {
  if (pe) return pe;
  pe = mkdtempSync(join(tmpdir(), 'lsm-pinentry-'));
  dirs.push(pe);
  chmodSync(pe, 0o755);
  writeFileSync(join(pe, 'pinentry'), `#!/bin/sh
d=$(dirname "$0")
mode=$(cat "$d/mode" 2>/dev/null)
echo "OK Pleased to meet you"
while IFS= read -r line; do
  case "$line" in
    SETDESC*) printf '%s\\n' "$line" >> "$d/log/desc"; echo OK ;;
    GETPIN)
      echo "GETPIN $mode" >> "$d/log/calls"
      case "$mode" in
        right) printf 'D %s\\nOK\\n' "$(cat "$d/pin")" ;;
        slow) while [ ! -e "$d/log/answer" ]; do sleep 0.1; done; printf 'D %s\\nOK\\n' "$(cat "$d/pin")" ;;
        wrong) printf 'D not the passphrase\\nOK\\n' ;;
        nopin) echo OK ;;
        cancel) echo 'ERR 83886179 Operation cancelled <Pinentry>' ;;
        hang) echo $$ > "$d/log/hang.pid"; exec sleep 600 ;;
        *) echo 'ERR 1 no mode' ;;
      esac ;;
    BYE) echo OK; exit 0 ;;
    *) echo OK ;;
  esac
done
`, { mode: 0o755 });
  writeFileSync(join(pe, 'notify-send'), `#!/bin/sh\nprintf '%s|' "$@" >> "$(dirname "$0")/log/notify"\necho >> "$(dirname "$0")/log/notify"\n`, { mode: 0o755 });
  writeFileSync(join(pe, 'pin'), PASS, { mode: 0o644 });
  mode('right');
  mkdirSync(join(pe, 'log'));
  chmodSync(join(pe, 'log'), 0o777);
  return pe;
}

function mode(m: 'right' | 'wrong' | 'nopin' | 'cancel' | 'hang' | 'slow'): void {
  writeFileSync(join(pe, 'mode'), `${m}\n`, { mode: 0o644 });
}

const calls = () => (existsSync(join(pe, 'log', 'calls')) ? readFileSync(join(pe, 'log', 'calls'), 'utf8').trim().split('\n').filter(Boolean).length : 0);

function approvalConfig(extra = ''): string {
  return `approval:\n  pinentry: ${join(fakePinentry(), 'pinentry')}\n  notify: ${join(pe, 'notify-send')}\n  display: ":99"\n  timeout: 4s\n  grant: 5s\n${extra}`;
}

/** A protected home of the subject user with a prod and a dev store, unlocked, approvals going to the fake pinentry. */
let shared = '';
function approvalHome(config = approvalConfig()): string {
  const dir = unprivilegedHome('lsm-approval-');
  dirs.push(dir);
  const home = join(dir, 'h');
  assert.equal(as(home, ['init']).code, 0);
  assert.equal(as(home, ['set', 'myapp', 'prod', 'DB_URL', `postgres://u:${CANARY}@db/x`]).code, 0);
  assert.equal(as(home, ['set', 'myapp', 'dev', 'API_KEY', `dev-${CANARY}`]).code, 0);
  runAs('sh', ['-c', `printf '%s' "$1" >> "$2"`, 'sh', config, join(home, 'config.yaml')]);
  const p = as(home, ['key', 'protect'], { input: `${PASS}\n${PASS}\n` });
  assert.equal(p.code, 0, p.stderr);
  // Piped, with no display: the only channel is what config.yaml's approval: names.
  const u = as(home, ['unlock'], { input: `${PASS}\n`, env: { DISPLAY: undefined, WAYLAND_DISPLAY: undefined } });
  assert.equal(u.code, 0, u.stderr);
  seals.set(home, /the seal "([a-z]+ [a-z]+ [a-z]+)"/.exec(u.stderr)?.[1] ?? '');
  homes.push(home);
  return home;
}

/** The seal `lsm unlock` printed for a home's keeper. */
const seals = new Map<string, string>();

function home(): string {
  return (shared ||= approvalHome());
}

function rows(h: string): Array<Record<string, any>> {
  return readFileSync(join(h, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

const since = (h: string, n: number) => rows(h).slice(n);
const CODE = /waiting for approval \(request ([A-Z0-9]{3}-[A-Z0-9]{3})\) on display :99/;

test('the right passphrase at the pinentry approves; the prompt names who, what and the code the client prints, never the value', { skip }, () => {
  const h = home();
  mode('right');
  const n = rows(h).length;
  const r = as(h, ['get', 'myapp', 'prod', 'DB_URL', '--reason', 'run the migration'], { env: AGENT });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `postgres://u:${CANARY}@db/x`);
  const code = CODE.exec(r.stderr)?.[1];
  assert.ok(code, `the client printed no request code: ${r.stderr}`);
  const desc = readFileSync(join(pe, 'log', 'desc'), 'utf8').trim().split('\n').at(-1)!;
  const seal = seals.get(h)!;
  assert.match(seal, /^[a-z]+ [a-z]+ [a-z]+$/, 'lsm unlock printed no seal');
  for (const part of [code, 'the agent claude', 'get myapp/prod: DB_URL', 'run the migration', 'Who: pid ', `Seal: ${seal}`]) assert.ok(desc.includes(part), `the prompt lacks ${part}: ${desc}`);
  assert.ok(!desc.includes(CANARY), 'the prompt shows the value');
  const got = since(h, n);
  const ev = got.map((x) => x.event);
  assert.deepEqual(ev.filter((e) => e.startsWith('approval.') || e === 'get'), ['approval.request', 'approval.granted', 'get']);
  const req = got.find((x) => x.event === 'approval.request')!;
  assert.equal(req.fields.request, code);
  assert.equal(req.fields.channel, 'display :99');
  assert.equal(req.fields.policy, 'default agent prod*=ask');
  assert.deepEqual(req.fields.keys, ['DB_URL']);
  const get = got.find((x) => x.event === 'get')!;
  assert.equal(get.outcome, 'ok');
  assert.equal(get.fields.approval, 'approved');
  assert.equal(get.fields.approval_request, code);
  assert.ok(!readFileSync(join(h, 'audit.jsonl'), 'utf8').includes(CANARY));
});

for (const [m, outcome, code, text] of [
  ['wrong', 'denied', 'approval_denied', /wrong passphrase/],
  ['nopin', 'denied', 'approval_denied', /without a passphrase/],
  ['cancel', 'denied', 'approval_denied', /cancelled/],
  ['hang', 'timeout', 'approval_timeout', /nobody approved .* in time/],
] as const) {
  test(`a pinentry that answers ${m}: refused (exit 4, ${code}), recorded, the hint says to ask the user`, { skip }, () => {
    const h = home();
    mode(m);
    const n = rows(h).length;
    const before = calls();
    const r = as(h, ['get', 'myapp', 'prod', 'DB_URL'], { env: AGENT });
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, CODE);
    assert.match(r.stderr, text);
    assert.match(r.stderr, /hint: ask the user to run the command themselves/);
    assert.equal(calls(), before + 1, 'the pinentry was not asked');
    const got = since(h, n);
    assert.ok(got.some((x) => x.event === `approval.${outcome}`), `no approval.${outcome}: ${got.map((x) => x.event)}`);
    const get = got.filter((x) => x.event === 'get').at(-1)!;
    assert.equal(get.outcome, 'denied');
    assert.equal(get.fields.approval, outcome);
    assert.ok(!r.stderr.includes(CANARY));
  });
}

test('a prompt waiting does not hold the keeper: other requests are served meanwhile', { skip }, async () => {
  const h = home();
  mode('hang');
  rmSync(join(pe, 'log', 'hang.pid'), { force: true });
  const [cmd, pre] = lsmCommand();
  const n = rows(h).length;
  const asking = spawnAs(cmd, [...pre, 'get', 'myapp', 'prod', 'DB_URL'], { env: cleanEnv({ LSM_DIR: h, HOME: h, ...AGENT }), stdio: 'ignore', cwd: join(h, '..') });
  const done = new Promise<number | null>((r) => asking.on('exit', (c) => r(c)));
  try {
    for (let i = 0; i < 200 && !since(h, n).some((x) => x.event === 'approval.request'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(since(h, n).some((x) => x.event === 'approval.request'), 'the approval was never asked');
    for (let i = 0; i < 100 && !existsSync(join(pe, 'log', 'hang.pid')); i++) await new Promise((r) => setTimeout(r, 50));
    const prompt = Number(readFileSync(join(pe, 'log', 'hang.pid'), 'utf8'));
    const other = as(h, ['get', 'myapp', 'dev', 'API_KEY']);
    assert.equal(other.code, 0, other.stderr);
    // Served while the prompt is still up (not a zombie), not after it ended.
    const state = (() => { try { return readFileSync(`/proc/${prompt}/stat`, 'utf8').replace(/^.*\) /s, '')[0]; } catch { return 'gone'; } })();
    assert.ok(state !== 'gone' && state !== 'Z', `the other request was served only after the approval ended (prompt ${state})`);
    assert.equal(asking.exitCode, null);
    assert.equal(await done, 4);
  } finally {
    asking.kill('SIGKILL');
  }
});

test('an approval covers what the prompt showed: a key added while it waits is not revealed', { skip }, async () => {
  const h = home();
  mode('slow');
  rmSync(join(pe, 'log', 'answer'), { force: true });
  const [cmd, pre] = lsmCommand();
  const out = join(h, '..', 'dumped.env');
  const n = rows(h).length;
  const asking = spawnAs(cmd, [...pre, 'dump', 'myapp', 'prod', '-o', out], { env: cleanEnv({ LSM_DIR: h, HOME: h, ...AGENT }), stdio: 'ignore', cwd: join(h, '..') });
  const done = new Promise<number | null>((r) => asking.on('exit', (c) => r(c)));
  try {
    for (let i = 0; i < 200 && !since(h, n).some((x) => x.event === 'approval.request'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(since(h, n).find((x) => x.event === 'approval.request')!.fields.keys, ['DB_URL']);
    assert.equal(as(h, ['set', 'myapp', 'prod', 'LATE_KEY', `late-${CANARY}`]).code, 0);
    writeFileSync(join(pe, 'log', 'answer'), '');
    assert.equal(await done, 4);
    assert.ok(!existsSync(out) || !readFileSync(out, 'utf8').includes('late-'), 'a key the prompt did not show was revealed');
    assert.match(since(h, n).find((x) => x.event === 'approval.denied')!.fields.why, /changed while it was asked/);
  } finally {
    asking.kill('SIGKILL');
    rmSync(join(pe, 'log', 'answer'), { force: true });
    assert.equal(as(h, ['delete', 'myapp', 'prod', 'LATE_KEY']).code, 0);
  }
});

test('a client can neither forge approval events nor claim an approval that is not its own', { skip }, () => {
  const h = home();
  const send = (req: object) => {
    const js = `const s=require('net').connect(${JSON.stringify(join(h, 'keeper.sock'))});let o='';s.on('connect',()=>s.end(${JSON.stringify(JSON.stringify(req))}+'\\n'));s.on('data',d=>o+=d);s.on('close',()=>process.stdout.write(o))`;
    return JSON.parse(String(runAs(process.execPath, ['-e', js]).stdout));
  };
  const forged = send({ v: 1, op: 'record', args: { input: { event: 'approval.granted', fields: { request: 'AAA-AAA' } } } });
  assert.equal(forged.ok, false);
  assert.equal(forged.error.code, 'denied');
  assert.ok(!rows(h).some((x) => x.event === 'approval.granted' && x.fields.request === 'AAA-AAA'));
  const claim = send({ v: 1, op: 'approval.await', args: { ticket: '0'.repeat(32) } });
  assert.equal(claim.ok, false);
  assert.match(claim.error.message, /no approval is being asked for this process/);
});

test('a grant covers its session, store and keys only', async () => {
  const { Grants } = await import('../src/keeper/grants.ts');
  const g = new Grants();
  const root = { pid: 100, start: '555', by: 'agent_marker' as const };
  g.add({ code: 'AAA-AAA', root, agent: 'claude', target: { app: 'a', env: 'prod' }, keys: new Set(['K1', 'K2']) }, 60_000);
  assert.ok(g.find(root, 'claude', { app: 'a', env: 'prod' }, ['K1']));
  assert.ok(g.find(root, 'claude', { app: 'a', env: 'prod' }, ['K1', 'K2']));
  assert.equal(g.find(root, 'claude', { app: 'a', env: 'prod' }, ['K1', 'K3']), undefined, 'a key not approved');
  assert.equal(g.find(root, 'claude', { app: 'a', env: 'prod-eu' }, ['K1']), undefined, 'another env');
  assert.equal(g.find({ ...root, start: '556' }, 'claude', { app: 'a', env: 'prod' }, ['K1']), undefined, 'a reused pid');
  assert.equal(g.find(root, 'codex', { app: 'a', env: 'prod' }, ['K1']), undefined, 'another agent');
  g.add({ code: 'BBB-BBB', root, agent: 'claude', target: { app: 'b', env: 'prod' }, keys: new Set(['K']) }, 0);
  assert.equal(g.find(root, 'claude', { app: 'b', env: 'prod' }, ['K']), undefined, 'grant: 0 keeps nothing');
});

test('audit suspicious flags the refused and timed-out approvals', { skip }, () => {
  const h = home();
  const r = as(h, ['audit', 'suspicious', '--format', 'json', '-v']);
  assert.ok(r.code === 0 || r.code === 3, r.stderr);
  assert.match(r.stdout, /approval_refused/);
  const flagged = r.stdout.trim().split('\n').filter((l) => l.includes('approval_refused'));
  assert.ok(flagged.length >= 1);
});

test('a grant is reused by the same agent session within its window, not by another session, not after it', { skip }, async () => {
  const h = home();
  mode('right');
  const [cmd, pre] = lsmCommand();
  const lsmLine = [cmd, ...pre].map((a) => `'${a}'`).join(' ');
  const go = join(pe, 'log', `go-${process.pid}`);
  const out = join(pe, 'log', `session-${process.pid}`);
  // One agent session (a shell with the marker, as an agent's tool calls are): two reads, then a third when told.
  const script = `${lsmLine} get myapp prod DB_URL >/dev/null 2>&1; echo "a=$?" >> '${out}'; ${lsmLine} get myapp prod DB_URL >/dev/null 2>&1; echo "b=$?" >> '${out}'; `
    + `while [ ! -e '${go}' ]; do sleep 0.2; done; ${lsmLine} get myapp prod DB_URL >/dev/null 2>&1; echo "c=$?" >> '${out}'`;
  const before = calls();
  const n = rows(h).length;
  const session = spawnAs('sh', ['-c', script], { env: cleanEnv({ LSM_DIR: h, HOME: h, ...AGENT }), stdio: 'ignore', cwd: join(h, '..') });
  const exited = new Promise<void>((r) => session.on('exit', () => r()));
  const wait = async (re: RegExp) => {
    for (let i = 0; i < 600 && !(existsSync(out) && re.test(readFileSync(out, 'utf8'))); i++) await new Promise((r) => setTimeout(r, 100));
    return existsSync(out) ? readFileSync(out, 'utf8') : '';
  };
  try {
    assert.match(await wait(/b=/), /a=0\nb=0\n/);
    assert.equal(calls(), before + 1, 'the second read of the session asked again');
    const used = since(h, n).filter((x) => x.event === 'approval.grant_used');
    assert.equal(used.length, 1);
    assert.equal(used[0]!.fields.session_root.by, 'agent_marker');
    // Another agent session (another shell) within the window: asked again, and refused.
    mode('wrong');
    const other = runAs('sh', ['-c', `${lsmLine} get myapp prod DB_URL`], { env: cleanEnv({ LSM_DIR: h, HOME: h, ...AGENT }), cwd: join(h, '..') });
    assert.equal(other.status, 4, other.stderr);
    assert.equal(calls(), before + 2, 'another session used the grant');
    // After the window (grant: 5s), the same session is asked again.
    await new Promise((r) => setTimeout(r, 6000));
    writeFileSync(go, '');
    assert.match(await wait(/c=/), /c=4\n/);
    assert.equal(calls(), before + 3, 'the grant outlived its window');
  } finally {
    session.kill('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  }
});

test('every agent read of plaintext is notified through the notifier the keeper chose; values are not in it', { skip }, async () => {
  const h = home();
  const file = join(pe, 'log', 'notify');
  const count = () => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).length : 0);
  const before = count();
  const r = as(h, ['get', 'myapp', 'dev', 'API_KEY'], { env: AGENT });
  assert.equal(r.code, 0, r.stderr);
  for (let i = 0; i < 50 && count() === before; i++) await new Promise((res) => setTimeout(res, 100));
  const text = readFileSync(file, 'utf8');
  assert.match(text, /lsm: claude read myapp\/dev\|get: API_KEY/);
  assert.ok(!text.includes(CANARY));
  // A notify-send on the caller's PATH is not the one used.
  const bin = join(h, '..', 'bin');
  runAs('sh', ['-c', `mkdir -p '${bin}' && printf '#!/bin/sh\\ntouch "$0.ran"\\n' > '${bin}/notify-send' && chmod 755 '${bin}/notify-send'`]);
  const n2 = count();
  assert.equal(as(h, ['get', 'myapp', 'dev', 'API_KEY'], { env: { ...AGENT, PATH: `${bin}:/usr/bin:/bin` } }).code, 0);
  for (let i = 0; i < 50 && count() === n2; i++) await new Promise((res) => setTimeout(res, 100));
  assert.equal(count(), n2 + 1);
  assert.ok(!existsSync(`${bin}/notify-send.ran`), "the caller's PATH chose the notifier");
});

test('an agent that points approval.pinentry at its own script gets no approval: held back, and refused once applied', { skip }, () => {
  const h = home();
  mode('wrong');
  // Its script would answer OK (it cannot know the passphrase) and leaves a trace if run.
  const own = join(h, '..', 'my-pinentry');
  runAs('sh', ['-c', `printf '#!/bin/sh\\ntouch "$0.ran"\\necho OK\\nwhile read l; do case "$l" in GETPIN) echo "D anything"; echo OK;; BYE) exit 0;; *) echo OK;; esac; done\\n' > '${own}' && chmod 755 '${own}'`]);
  const cfg = readFileSync(join(h, 'config.yaml'), 'utf8').replace(/pinentry: .*/, `pinentry: ${own}`);
  assert.equal(runAs('sh', ['-c', `printf '%s' "$1" > "$2"`, 'sh', cfg, join(h, 'config.yaml')]).status, 0);
  const n = rows(h).length;
  const r = as(h, ['get', 'myapp', 'prod', 'DB_URL'], { env: AGENT });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /takes effect only after 'lsm unlock'/);
  assert.ok(!existsSync(`${own}.ran`), "the agent's pinentry was run");
  const change = since(h, n).find((x) => x.event === 'config.changed')!;
  assert.equal(change.fields.applied, false);
  assert.ok(change.fields.held_back.includes('approval section changed'));
  // The user unlocks again (applying what config.yaml says then, unseen): the script is still
  // refused, since the user can write it, and so can the agent.
  assert.equal(as(h, ['unlock'], { input: `${PASS}\n` }).code, 0);
  const u = as(h, ['get', 'myapp', 'prod', 'DB_URL'], { env: AGENT });
  assert.equal(u.code, 4, u.stderr);
  assert.match(u.stderr, /cannot be asked: the pinentry is not trusted: .* belongs to this user/);
  assert.ok(!existsSync(`${own}.ran`), "the agent's pinentry was run");
  assert.equal(rows(h).filter((x) => x.event === 'approval.unavailable').length >= 1, true);
  // Put back for the tests after.
  assert.equal(runAs('sh', ['-c', `printf '%s' "$1" > "$2"`, 'sh', approvalConfig(), join(h, 'config.yaml')]).status, 0);
  assert.equal(as(h, ['unlock'], { input: `${PASS}\n` }).code, 0);
});

test('no terminal and no display to ask on: refused at once (approval_unavailable), the pinentry never started', { skip }, () => {
  const h = approvalHome(`approval:\n  pinentry: ${join(fakePinentry(), 'pinentry')}\n`);
  mode('right');
  const before = calls();
  const r = as(h, ['get', 'myapp', 'prod', 'DB_URL'], { env: AGENT });
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /cannot be asked: there is no terminal or display/);
  assert.match(r.stderr, /hint: ask the user to run the command themselves/);
  assert.equal(calls(), before);
  const last = rows(h).slice(-2);
  assert.equal(last[0]!.event, 'approval.unavailable');
  assert.equal(last[1]!.event, 'get');
  assert.equal(last[1]!.fields.approval, 'unavailable');
  // The caller's DISPLAY chooses nothing.
  assert.equal(as(h, ['get', 'myapp', 'prod', 'DB_URL'], { env: { ...AGENT, DISPLAY: ':5' } }).code, 4);
  assert.equal(calls(), before);
});

test('ask in an unprotected home is refused when the policy is loaded, with the reason', () => {
  const h = initHome();
  assert.equal(lsm(['set', 'myapp', 'prod', 'K', 'v'], { home: h }).code, 0);
  writeFileSync(join(h, 'config.yaml'), `${readFileSync(join(h, 'config.yaml'), 'utf8')}\npolicy:\n  agent: {"prod*": ask}\n`);
  const r = lsm(['get', 'myapp', 'prod', 'K'], { home: h, env: AGENT });
  assert.equal(r.code, 4);
  assert.match(r.stderr, /'ask' needs a protected home/);
  // Every plaintext read fails closed, the human's too: the policy cannot be read as written.
  assert.equal(lsm(['get', 'myapp', 'prod', 'K'], { home: h }).code, 4);
});

const hasTmux = spawnSync('tmux', ['-V']).status === 0 && existsSync('/usr/bin/pinentry-curses');

test('a real pinentry-curses under tmux, on the terminal that ran lsm unlock: the right passphrase approves, a wrong one does not', { skip: skip ?? (hasTmux ? undefined : 'tmux or pinentry-curses is not installed') }, async () => {
  const dir = unprivilegedHome('lsm-approval-tty-');
  dirs.push(dir);
  const h = join(dir, 'h');
  assert.equal(as(h, ['init']).code, 0);
  assert.equal(as(h, ['set', 'myapp', 'prod', 'DB_URL', `tty-${CANARY}`]).code, 0);
  assert.equal(as(h, ['key', 'protect'], { input: `${PASS}\n${PASS}\n` }).code, 0);
  homes.push(h);
  const sock = join(dir, 'tmux.sock');
  const [cmd, pre] = lsmCommand();
  const tmux = (...a: string[]) => runAs('tmux', ['-S', sock, ...a], { env: cleanEnv({ LSM_DIR: h, HOME: dir, TERM: 'xterm' }) });
  const pane = () => String(tmux('capture-pane', '-p').stdout);
  const until = async (re: RegExp, what: string) => {
    for (let i = 0; i < 150; i++) {
      if (re.test(pane())) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`${what} never showed in the pane:\n${pane()}`);
  };
  const unlockLine = `${[cmd, ...pre].map((a) => `'${a}'`).join(' ')} unlock; exec sleep 600`;
  assert.equal(tmux('new-session', '-d', '-x', '120', '-y', '35', `sh -c "${unlockLine.replace(/"/g, '\\"')}"`).status, 0);
  try {
    await until(/Passphrase for/, 'the unlock prompt');
    tmux('send-keys', PASS, 'Enter');
    await until(/unlocked/, 'the unlock');
    const seal = /the seal "([a-z]+ [a-z]+ [a-z]+)"/.exec(pane().replace(/\n/g, ' '))?.[1];
    assert.ok(seal, `lsm unlock showed no seal:\n${pane()}`);
    const ask = (pass: string) => new Promise<{ code: number | null; out: string; err: string; shown: string }>((resolve) => {
      const c = spawnAs(cmd, [...pre, 'get', 'myapp', 'prod', 'DB_URL'], { env: cleanEnv({ LSM_DIR: h, HOME: dir, ...AGENT }), cwd: dir });
      let out = '';
      let err = '';
      let shown = '';
      c.stdout!.on('data', (d) => { out += d; });
      c.stderr!.on('data', (d) => { err += d; });
      c.on('close', (code) => resolve({ code, out, err, shown }));
      void (async () => {
        await until(/lsm request [A-Z0-9]{3}-[A-Z0-9]{3}/, 'the pinentry');
        shown = pane();
        tmux('send-keys', pass, 'Enter');
      })();
    });
    const ok = await ask(PASS);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, `tty-${CANARY}`);
    const code = /request ([A-Z0-9]{3}-[A-Z0-9]{3})\) on terminal \/dev\/pts\/\d+/.exec(ok.err)?.[1];
    assert.ok(code, ok.err);
    assert.ok(ok.shown.includes(`lsm request ${code}`), `the pinentry showed another code:\n${ok.shown}`);
    assert.ok(ok.shown.includes('myapp/prod') && !ok.shown.includes(CANARY));
    assert.ok(ok.shown.includes(`Seal: ${seal}`), `the prompt lacks the seal ${seal}:\n${ok.shown}`);
    // Another session (a new lsm process, no common agent ancestor): asked again; typing into the
    // terminal (as tmux send-keys lets an agent do) approves nothing without the passphrase.
    const bad = await ask('yes');
    assert.equal(bad.code, 4, bad.err);
    assert.match(bad.err, /wrong passphrase/);
  } finally {
    tmux('kill-server');
  }
});

test('ask sits between reason and deny: deny -> ask and ask -> reason are loosenings the keeper holds back; allow -> ask is not', async () => {
  const { parsePolicy } = await import('../src/policy.ts');
  const { loosenings } = await import('../src/keeper/config-watch.ts');
  const pol = (d: string) => parsePolicy({ policy: { agent: { 'prod*': d } } }, 'config.yaml', true);
  assert.equal(pol('ask').error, undefined);
  assert.ok(loosenings(pol('deny'), pol('ask')).some((l) => l.includes('deny -> ask')));
  assert.ok(loosenings(pol('ask'), pol('reason')).some((l) => l.includes('ask -> reason')));
  assert.deepEqual(loosenings(pol('allow'), pol('ask')), []);
  assert.deepEqual(loosenings(pol('ask'), pol('deny')), []);
  // Without a keeper there is no one to ask: refused when the policy is read.
  assert.match(parsePolicy({ policy: { agent: { 'prod*': 'ask' } } }, 'config.yaml', false).error ?? '', /needs a protected home/);
});

test('the Assuan client: the pin is percent-decoded, a description cannot add lines, a pinentry that dies is a failure', async () => {
  const { askPin, assuanEscape } = await import('../src/keeper/pinentry.ts');
  assert.equal(assuanEscape('a%b\nc\rd'), 'a%25b%0Ac%0Dd');
  const dir = tempDir();
  const script = join(dir, 'pe');
  writeFileSync(script, '#!/bin/sh\necho OK hi\nwhile read l; do case "$l" in SETDESC*) echo "$l" > "$(dirname "$0")/desc"; echo OK;; GETPIN) echo "D p%25a%0Ass word"; echo OK;; *) echo OK;; esac; done\n', { mode: 0o755 });
  const base = { program: script, args: [], env: { PATH: '/usr/bin:/bin' }, options: ['ttyname=/dev/pts/0'], title: 't', prompt: 'p', timeoutMs: 10_000 };
  const r = await askPin({ ...base, description: 'line one\nOK\nD injected' });
  assert.equal(r.kind, 'pin');
  assert.equal(r.kind === 'pin' && r.pin.toString(), 'p%a\nss word');
  assert.equal(readFileSync(join(dir, 'desc'), 'utf8').trim(), 'SETDESC line one%0AOK%0AD injected');
  writeFileSync(script, '#!/bin/sh\necho OK hi\nexit 0\n', { mode: 0o755 });
  assert.equal((await askPin({ ...base, description: 'x' })).kind, 'failed');
});
