import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync, chownSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { LSM_BIN, cleanEnv, lsmCommand } from './helpers.ts';
import { isSecretFile } from '../src/shield/rules.ts';
import { runAs, skip, spawnAs, unprivilegedHome, unprivilegedIds, waitForExec } from './unprivileged.ts';

/**
 * `lsm shield` as an ordinary user, with a protected home and an unlocked keeper: what a
 * shielded command cannot read, what it still can, and who the keeper says it is.
 * Every denial is paired with a control outside the shield that succeeds, so that each
 * check could fail.
 */
function landlockMissing(): string | undefined {
  try {
    if (readFileSync('/sys/kernel/security/lsm', 'utf8').split(',').map((s) => s.trim()).includes('landlock')) return undefined;
  } catch { /* no securityfs mounted: try anyway */ return undefined; }
  return 'this kernel has no Landlock in its LSM list';
}
// Without Landlock the shield only refuses (the first test): skipped on a developer's
// machine, but never in CI, where a shield that went untested would pass unseen.
const noLandlock = process.env.CI === 'true' ? undefined : landlockMissing();
const shieldSkip = skip ?? noLandlock;

const PASS = 'shield passphrase 7';
const CANARY = 'sh-canary-8c1f0e2a9b';
const ENV_CANARY = 'dotenv-canary-41d7aa';
const dirs: string[] = [];
let base = '';
let home = '';
let proj = '';
let unlocked = false;

const [LSM_CMD, LSM_PRE] = lsmCommand();
const LSM = [LSM_CMD, ...LSM_PRE].join(' ');

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({ LSM_DIR: home, HOME: base, LSM, ...extra });
}

function as(args: string[], input = '', cwd = proj): { code: number | null; stdout: string; stderr: string } {
  const r = runAs(LSM_CMD, [...LSM_PRE, ...args], { env: env(), input, cwd, timeout: 60_000 });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** `sh -c script` as the user: inside the shield, or (control) outside it. */
function sh(script: string, shielded: boolean, flags: string[] = [], extra: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const [cmd, args] = shielded ? [LSM_CMD, [...LSM_PRE, 'shield', ...flags, '--', 'sh', '-c', script]] : ['sh', ['-c', script]];
  const r = runAs(cmd, args, { env: env(extra), cwd: proj, timeout: 120_000 });
  return { code: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

after(() => {
  if (unlocked) as(['lock']);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setUp(): void {
  if (unlocked) return;
  base = unprivilegedHome('lsm-shield-');
  dirs.push(base);
  home = join(base, 'h');
  proj = join(base, 'proj');
  const { uid, gid } = unprivilegedIds();
  mkdirSync(join(proj, 'src'), { recursive: true });
  writeFileSync(join(proj, 'README.md'), 'readme\n');
  writeFileSync(join(proj, 'src', 'a.txt'), 'a\n');
  writeFileSync(join(proj, '.env'), `TOKEN=${ENV_CANARY}\n`);
  writeFileSync(join(proj, '.env.example'), 'TOKEN=\n');
  for (const p of [proj, join(proj, 'src'), join(proj, 'README.md'), join(proj, 'src', 'a.txt'), join(proj, '.env'), join(proj, '.env.example')]) chownSync(p, uid, gid);
  assert.equal(as(['init'], '', base).code, 0);
  assert.equal(as(['set', 'myapp', 'dev', 'K', CANARY], '', base).code, 0);
  assert.equal(as(['link', 'myapp']).code, 0);
  const p = as(['key', 'protect'], `${PASS}\n${PASS}\n`, base);
  assert.equal(p.code, 0, p.stderr);
  const u = as(['unlock'], `${PASS}\n`, base);
  assert.equal(u.code, 0, u.stderr);
  unlocked = true;
}

const DENIED = /permission denied|EACCES|operation not permitted|invalid cross-device link/i;

function homeFiles(): string[] {
  return readdirSync(home).filter((f) => statSync(join(home, f)).isFile());
}

test('without a usable Landlock the shield refuses and the command does not run', { skip }, () => {
  setUp();
  const mark = join(proj, 'ran');
  const r = sh(`touch ${mark}`, true, [], { LSM_SHIELD_TEST_NO_LANDLOCK: '1' });
  assert.equal(r.code, 126, r.stderr);
  assert.match(r.stderr, /no Landlock/);
  assert.match(r.stderr, /unprotected/);
  assert.ok(!existsSync(mark), 'the command ran without the shield');
  // The control: the same command under a working shield runs.
  if (noLandlock) return;
  assert.equal(sh(`touch ${mark}`, true).code, 0);
  assert.ok(existsSync(mark));
  rmSync(mark);
});

test('inside the shield every file of the home is unreadable by cat, cp, age -d -i, node and ln; outside, cat, cp and ln work', { skip: shieldSkip }, () => {
  setUp();
  const files = homeFiles();
  assert.ok(files.includes('key.age') && files.includes('config.yaml') && files.includes('audit.jsonl') && files.includes('myapp.dev.age'), files.join(' '));
  const store = join(home, 'myapp.dev.age');
  for (const f of files) {
    const path = join(home, f);
    const out = join(proj, `copy-${f}`);
    const link = join(proj, `link-${f}`);
    const tries: Array<[string, string]> = [
      ['cat', `cat ${path}`],
      ['cp', `cp ${path} ${out}`],
      ['node', `node -e 'process.stdout.write(require("fs").readFileSync(process.argv[1]))' ${path}`],
      ['ln', `ln ${path} ${link}`],
      ['age', `age -d -i ${path} ${store} </dev/null`],
    ];
    for (const [what, script] of tries) {
      const r = sh(script, true);
      assert.notEqual(r.code, 0, `${what} of ${f} worked inside the shield`);
      assert.match(r.stderr, DENIED, `${what} of ${f}: ${r.stderr}`);
      assert.ok(!r.stdout.includes(CANARY));
      assert.ok(!existsSync(out) && !existsSync(link), `${what} of ${f} left a copy or link`);
    }
    // Controls: the same user outside the shield reads, copies and links the file.
    if (f !== 'keeper.sock') {
      assert.equal(sh(`cat ${path} >/dev/null`, false).code, 0, `cat ${f} outside`);
      assert.equal(sh(`cp ${path} ${out} && ln ${path} ${link}`, false).code, 0, `cp/ln ${f} outside`);
      rmSync(out);
      rmSync(link);
    }
  }
});

test('inside the shield the home cannot be written, truncated, replaced or added to', { skip: shieldSkip }, () => {
  setUp();
  const log = readFileSync(join(home, 'audit.jsonl'));
  const tries = [
    `echo x >> ${home}/audit.jsonl`,
    `truncate -s 0 ${home}/audit.jsonl`,
    `mv ${home}/config.yaml ${home}/c.yaml`,
    `rm -f ${home}/key.age`,
    `touch ${home}/key.txt`,
    `cp ${proj}/README.md ${home}/config.yaml`,
    `mv ${proj}/README.md ${home}/x`,
  ];
  for (const t of tries) {
    const r = sh(t, true);
    assert.notEqual(r.code, 0, `${t} worked inside the shield`);
    assert.match(r.stderr, DENIED, `${t}: ${r.stderr}`);
  }
  assert.ok(readFileSync(join(home, 'audit.jsonl')).subarray(0, log.length).equals(log), 'the log was changed');
  assert.ok(existsSync(join(home, 'key.age')) && existsSync(join(home, 'config.yaml')) && !existsSync(join(home, 'key.txt')));
  assert.ok(existsSync(join(proj, 'README.md')));
});

test('lsm exec and an allowed lsm get work inside through the keeper, and their events carry the shield', { skip: shieldSkip }, () => {
  setUp();
  const r = sh('$LSM exec --no-mask -- printenv K; $LSM get K; echo; echo shield=$LSM_SHIELD', true);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], CANARY);
  assert.equal(lines[1], CANARY);
  const root = Number(/shield=(\d+)/.exec(r.stdout)?.[1]);
  assert.ok(root > 1);
  const rows = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const exec = rows.filter((e) => e.event === 'exec').at(-1);
  const get = rows.filter((e) => e.event === 'get').at(-1);
  for (const e of [exec, get]) {
    assert.equal(e.outcome, 'ok');
    assert.equal(e.actor.agent_marker, 'shield');
    assert.equal(e.actor.agent_source, 'shield');
    assert.equal(e.fields.peer.shield.root_pid, root);
    assert.equal(e.fields.peer.no_new_privs, true);
  }
  // The control: the same get outside the shield carries no shield.
  const c = sh('$LSM get K', false);
  assert.equal(c.code, 0, c.stderr);
  const last = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'get').at(-1);
  assert.equal(last.actor.agent_marker, '');
  assert.equal(last.fields.peer.shield, undefined);
});

test('a disguised process (setsid, double fork, env -i, renamed tmux: server, under a pty) is still the shield; outside, the disguise works', { skip: shieldSkip }, () => {
  setUp();
  // In src/: a file created in the project's root, beside the protected .env, could not be read back inside.
  const out = join(proj, 'src', 'disguised.out');
  // The grandchild of a setsid'd shell whose parent exits: orphaned, in a new session, with a
  // clean environment, a terminal and a parent named like a terminal multiplexer.
  const rename = join(base, 'rename.js');
  writeFileSync(rename, 'process.title = "tmux: server"; require("child_process").spawnSync(process.argv[2], process.argv.slice(3), { stdio: "inherit" });\n');
  const inner = join(base, 'inner.sh');
  writeFileSync(inner, `exec node ${rename} ${LSM_CMD} ${LSM_PRE.join(' ')} get K\n`);
  const outer = join(base, 'outer.sh');
  writeFileSync(outer, `(env -i PATH="$PATH" HOME="$HOME" LSM_DIR="$LSM_DIR" script -qec "sh ${inner}" /dev/null > ${out} 2>&1 &)\nexit 0\n`);
  const disguise = `setsid sh ${outer}; i=0; while [ $i -lt 300 ] && ! grep -q -e ${CANARY} -e lsm: ${out} 2>/dev/null; do sleep 0.1; i=$((i+1)); done; sleep 0.5`;
  const lastGet = () => readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'get').at(-1);

  const c = sh(disguise, false);
  assert.equal(c.code, 0, c.stderr);
  assert.match(readFileSync(out, 'utf8'), new RegExp(CANARY));
  const outside = lastGet();
  assert.equal(outside.actor.agent_marker, '', 'the disguise does not pass for a person even outside the shield: the check could not fail');
  assert.notEqual(outside.actor.tty, '');
  rmSync(out);

  const r = sh(disguise, true);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(out, 'utf8'), new RegExp(CANARY));
  const inside = lastGet();
  assert.equal(inside.actor.agent_marker, 'shield');
  assert.notEqual(inside.actor.tty, '', 'the disguised get had no terminal');
  assert.ok(inside.fields.peer.shield.root_pid > 1);
  assert.ok(inside.fields.peer.ancestry.some((a: { comm: string }) => a.comm === 'tmux: server'));
  rmSync(out);
});

test('the command cannot signal the shield (its subreaper) nor the keeper', { skip: shieldSkip }, () => {
  setUp();
  const keeper = JSON.parse(as(['keeper', 'status', '--format', 'json']).stdout).pid as number;
  const r = sh(`kill -9 $LSM_SHIELD; echo shield=$?; kill -0 ${keeper}; echo keeper=$?`, true);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /shield=1/);
  assert.match(r.stdout, /keeper=1/);
  // The control: outside, the same user can signal the keeper (0 only probes).
  assert.match(sh(`kill -0 ${keeper}; echo keeper=$?`, false).stdout, /keeper=0/);
  assert.ok(existsSync(`/proc/${keeper}`));
});

test('the command cannot kill the shield through any of its threads: a get after trying still carries the shield', { skip: shieldSkip }, () => {
  setUp();
  // A SIGKILL to one thread kills its whole process: a thread of the shield inside the
  // command's domain (the old worker that forked it) was a way to take the mark away.
  const r = sh(`for t in $(ls /proc/$LSM_SHIELD/task); do kill -9 $t 2>/dev/null && echo killed=$t; done; sleep 0.3; echo ppid=$(cut -d' ' -f4 /proc/$$/stat); $LSM get K >/dev/null; echo got=$?`, true);
  assert.equal(r.code, 0, `the shield did not end as its command did: ${r.code} ${r.stderr}`);
  assert.doesNotMatch(r.stdout, /killed=/, r.stdout);
  const root = Number(/ppid=(\d+)/.exec(r.stdout)?.[1]);
  assert.match(r.stdout, /got=0/, r.stderr);
  const get = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'get').at(-1);
  assert.equal(get.actor.agent_marker, 'shield');
  assert.equal(get.fields.peer.shield.root_pid, root, 'the shield is still the parent of its command');
  // The control: outside the shield the same user can kill a process's thread, and with it the process.
  const victim = spawnAs('node', ['-e', 'new (require("worker_threads").Worker)("setTimeout(()=>{},60000)", {eval: true}); setTimeout(() => {}, 60000)'], { env: env(), cwd: proj });
  try {
    let tids: string[] = [];
    for (let i = 0; i < 100 && tids.length < 2; i++) {
      try { tids = readdirSync(`/proc/${victim.pid}/task`); } catch { /* starting */ }
      if (tids.length < 2) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    const c = sh(`kill -9 ${tids.filter((t) => t !== String(victim.pid)).at(-1)}; echo rc=$?`, false);
    assert.match(c.stdout, /rc=0/, c.stderr);
    for (let i = 0; i < 100 && existsSync(`/proc/${victim.pid}/task`) && readFileSync(`/proc/${victim.pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z'; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    assert.ok(!existsSync(`/proc/${victim.pid}/task`) || readFileSync(`/proc/${victim.pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z', 'killing one thread outside the shield did not kill its process: the check could not fail');
  } finally {
    try { victim.kill('SIGKILL'); } catch { /* gone */ }
  }
});

test('inside the shield the environment and memory of the user\'s other processes are closed; outside they are open', { skip: shieldSkip }, () => {
  setUp();
  const other = spawnAs('sleep', ['60'], { env: { CANARY_ENV: ENV_CANARY }, stdio: 'ignore' });
  const pid = other.pid!;
  assert.ok(pid > 1);
  waitForExec(pid, 'sleep');
  try {
    const outside = sh(`cat /proc/${pid}/environ`, false);
    assert.match(outside.stdout, new RegExp(ENV_CANARY), 'the control cannot read the environ: the check could not fail');
    const inside = sh(`cat /proc/${pid}/environ`, true);
    assert.notEqual(inside.code, 0);
    assert.ok(!inside.stdout.includes(ENV_CANARY));
    assert.match(inside.stderr, DENIED);
    // mem: the control's open succeeds (the read may miss a mapping); inside, the open is refused.
    const mem = `dd if=/proc/${pid}/mem bs=1 count=1 skip=4194304 status=none`;
    assert.doesNotMatch(sh(mem, false).stderr, DENIED);
    assert.match(sh(mem, true).stderr, DENIED);
  } finally {
    other.kill('SIGKILL');
  }
});

test('a .env that is a symbolic link protects the file it leads to', { skip: shieldSkip }, () => {
  setUp();
  const secret = join(base, 'elsewhere.env');
  writeFileSync(secret, `X=${ENV_CANARY}\n`);
  const { uid, gid } = unprivilegedIds();
  chownSync(secret, uid, gid);
  const link = join(proj, 'src', '.env.local');
  assert.equal(runAs('ln', ['-s', secret, link]).status, 0);
  try {
    assert.match(sh(`cat ${secret}`, false).stdout, new RegExp(ENV_CANARY));
    const r = sh(`cat ${link}; cat ${secret}`, true);
    assert.ok(!r.stdout.includes(ENV_CANARY), 'the linked secret was read inside the shield');
    assert.match(r.stderr, DENIED);
  } finally {
    rmSync(link);
    rmSync(secret);
  }
});

test('a file of the home with a second name (a hard link made before) makes the shield refuse', { skip: shieldSkip }, () => {
  setUp();
  const link = join(proj, 'src', 'cfg');
  assert.equal(runAs('ln', [join(home, 'config.yaml'), link]).status, 0);
  try {
    const r = sh(`cat ${link}`, true);
    assert.equal(r.code, 126, r.stderr);
    assert.match(r.stderr, /config\.yaml has 2 names/);
    assert.equal(r.stdout, '');
  } finally {
    rmSync(link);
  }
  assert.equal(sh('true', true).code, 0);
});

test('the project stays readable and writable inside; .env is not, unless --allow-read; tools run', { skip: shieldSkip }, () => {
  setUp();
  const script = [
    'cat README.md', 'echo more >> src/a.txt', 'cat src/a.txt', 'echo new > src/new.txt', 'cat src/new.txt',
    'mkdir -p src/d && echo deep > src/d/f && cat src/d/f', 'cat .env.example', 'node --version', 'npm --version',
    'git add README.md && git status --short | head -1',
  ].join(' && ');
  // A project has its .git before the agent starts (a new one beside .env could not be read: docs/shield.md).
  assert.equal(sh('git init -q .', false).code, 0);
  const r = sh(script, true);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /readme\na\nmore\nnew\ndeep\nTOKEN=\nv\d+/);
  assert.match(r.stderr, /1 secret file under .* unreadable \(\.env\)/);
  rmSync(join(proj, '.git'), { recursive: true, force: true });
  const denied = sh('cat .env', true);
  assert.notEqual(denied.code, 0);
  assert.ok(!denied.stdout.includes(ENV_CANARY));
  assert.match(sh('cat .env', false).stdout, new RegExp(ENV_CANARY));
  assert.match(sh('cat .env', true, ['--allow-read', '.env']).stdout, new RegExp(ENV_CANARY));
  assert.match(sh('cat .env', true, ['--no-env-files']).stdout, new RegExp(ENV_CANARY));
  // The home cannot be allowed.
  const bad = sh('true', true, ['--allow-read', home]);
  assert.equal(bad.code, 2);
});

test('the shield exits with the command\'s status, dies of its signal, and says what --print-config prints', { skip: shieldSkip }, () => {
  setUp();
  assert.equal(sh('exit 7', true).code, 7);
  const killed = runAs(LSM_CMD, [...LSM_PRE, 'shield', '--', 'sh', '-c', 'kill -TERM $$'], { env: env(), cwd: proj });
  assert.equal(killed.signal, 'SIGTERM');
  const missing = sh('true', true, []);
  assert.equal(missing.code, 0);
  const nf = runAs(LSM_CMD, [...LSM_PRE, 'shield', '--', 'no-such-command-xyz'], { env: env(), cwd: proj });
  assert.equal(nf.status, 127);
  const claude = as(['shield', '--print-config', 'claude']);
  assert.equal(claude.code, 0);
  const settings = JSON.parse(claude.stdout.slice(0, claude.stdout.indexOf('\n}\n') + 2));
  assert.ok(settings.sandbox.filesystem.denyRead.includes(home));
  assert.match(claude.stdout, /allowAllUnixSockets/);
  const codex = as(['shield', '--print-config', 'codex']);
  assert.match(codex.stdout, new RegExp(`"${home}" = "none"`));
  assert.equal(as(['shield', '--print-config', 'vim']).code, 2);
  // What the shield's own parser declines goes to the full command line, which says what is wrong.
  assert.equal(as(['shield', 'sh']).code, 2);
  assert.match(as(['shield', '--help']).stdout, /--allow-read/);
  assert.equal(as(['shield', '--no-such-flag', '--', 'true']).code, 2);
  // An empty --allow-read was the cwd to the shield, refused only when the cwd held the home.
  const empty = as(['shield', '--allow-read=', '--', 'true']);
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /--allow-read '': an empty path/);
});

test('a process the command leaves running (a daemon, reparented to the shield) ends with the shield', { skip: shieldSkip }, () => {
  setUp();
  const r = sh('setsid sleep 300 & echo daemon=$!', true);
  assert.equal(r.code, 0, r.stderr);
  const pid = Number(/daemon=(\d+)/.exec(r.stdout)?.[1]);
  assert.ok(pid > 1, r.stdout);
  const gone = () => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] === 'Z';
  for (let i = 0; i < 100 && !gone(); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  assert.ok(gone(), `the daemon ${pid} outlived the shield`);
  // The control: outside the shield the same daemon stays.
  // Its stdout not the pipe: spawnSync would wait for the daemon to close it (120 s, the timeout).
  const c = sh('setsid sleep 300 </dev/null >/dev/null 2>&1 & echo daemon=$!', false);
  const other = Number(/daemon=(\d+)/.exec(c.stdout)?.[1]);
  try {
    assert.ok(existsSync(`/proc/${other}`), 'the daemon outside ended by itself: the check could not fail');
  } finally {
    try { process.kill(other, 'SIGKILL'); } catch { /* gone */ }
  }
});

test('through an installed lsm on PATH (a link named lsm, as npm link makes): the shield denies the home, and lsm inside works through the keeper as the shield', { skip: shieldSkip }, () => {
  setUp();
  const bin = join(base, 'bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(LSM_BIN, join(bin, 'lsm'));
  const path = `${bin}${delimiter}${process.env.PATH ?? ''}`;
  const onPath = (args: string[]) => runAs('lsm', args, { env: env({ PATH: path }), cwd: proj, timeout: 120_000 });
  const r = onPath(['shield', '--', 'sh', '-c', `cat ${join(home, 'config.yaml')} >/dev/null 2>&1 && echo config=read || echo config=denied; lsm get K`]);
  assert.equal(r.status, 0, String(r.stderr));
  assert.match(String(r.stdout), /^config=denied\n/);
  assert.ok(String(r.stdout).endsWith(CANARY), String(r.stdout));
  const lastGet = () => readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'get').at(-1);
  assert.equal(lastGet().actor.agent_marker, 'shield');
  // The control: the same lsm on PATH, outside the shield, reads the config and is no shield.
  const c = runAs('sh', ['-c', `cat ${join(home, 'config.yaml')} >/dev/null 2>&1 && echo config=read; lsm get K`], { env: env({ PATH: path }), cwd: proj, timeout: 60_000 });
  assert.equal(c.status, 0, String(c.stderr));
  assert.match(String(c.stdout), /^config=read\n/);
  assert.equal(lastGet().actor.agent_marker, '');
});

test('which names under the cwd are protected by default', () => {
  for (const n of ['.env', '.env.local', '.env.production', 'secrets.age', 'x.prod.age']) assert.ok(isSecretFile(n), n);
  for (const n of ['.env.example', '.env.sample', '.env.template', '.env.dist', 'env', '.envrc', 'age.txt', 'README.md']) assert.ok(!isSecretFile(n), n);
});

/** The last get of the audit log. */
function lastGetEvent(): undefined | { seq: number; actor: { agent_marker: string }; fields: { peer: { shield?: { root_pid: number }; ancestry: unknown[] } } } {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.event === 'get').at(-1);
}

test('a process deeper in the tree than any walk of the keeper is still the shield\'s', { skip: shieldSkip }, () => {
  setUp();
  // 300 shells, each the parent of the next: the keeper's walk up the ancestry stopped
  // at 256, short of the shield, and the get at the bottom was a person's.
  const deep = join(base, 'deep.sh');
  writeFileSync(deep, `if [ "$1" -gt 0 ]; then sh ${deep} $(($1 - 1)); exit $?; fi\n$LSM get K >/dev/null\n`);
  const r = sh(`sh ${deep} 300; echo got=$?`, true);
  assert.match(r.stdout, /got=0/, r.stderr);
  const get = lastGetEvent()!;
  assert.equal(get.actor.agent_marker, 'shield');
  assert.ok(get.fields.peer.shield && get.fields.peer.shield.root_pid > 1);
  assert.ok(get.fields.peer.ancestry.length <= 256, `the event records ${get.fields.peer.ancestry.length} ancestors`);
});

/** The user's processes whose command line names `script`. */
function running(script: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(script)) pids.push(Number(e));
    } catch { /* gone */ }
  }
  return pids;
}

test('processes that each start the next and exit, timed with the shield\'s exit, do not outlive it', { skip: shieldSkip }, () => {
  setUp();
  // Each link starts its successor and exits at once, so the one alive when the shield
  // looks is gone when it kills; the old shield gave up after five rounds and exited,
  // and what was left, reparented to init, ran a get recorded as a person.
  const chain = join(base, 'chain.sh');
  const out = join(proj, 'src', 'chain.out');
  writeFileSync(chain, `if [ -e /proc/$LSM_SHIELD ]; then sh ${chain} & exit 0; fi\n$LSM get K >/dev/null 2>&1; echo escaped >> ${out}\n`);
  const before = lastGetEvent()?.seq ?? 0;
  // Not on the shield's stdout: spawnSync would wait for whatever holds that pipe open.
  const r = sh(`for i in $(seq 16); do sh ${chain} </dev/null >/dev/null 2>&1; done; echo started`, true);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /started/);
  // The shield has exited: nothing of its tree may be left.
  const left = running(chain);
  for (let i = 0; i < 200 && running(chain).length > 0; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  const escaped = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).length : 0;
  rmSync(out, { force: true });
  assert.deepEqual(left, [], `${left.length} processes of the tree outlived the shield; ${escaped} of them ran a get`);
  assert.equal(escaped, 0);
  const get = lastGetEvent();
  assert.ok(!get || get.seq <= before || get.actor.agent_marker === 'shield', 'a get of an escaped process was recorded as a person');
});

test('a process that lowers the shield\'s file limit (prlimit) does not make it leave its tree behind', { skip: shieldSkip }, () => {
  setUp();
  // With no descriptor to spare, the old shield could not list /proc when its command
  // ended: it exited with an internal error, and the daemon left, reparented to init,
  // was a person to the keeper.
  const out = join(proj, 'src', 'daemon.out');
  const daemon = join(base, 'daemon.sh');
  writeFileSync(daemon, `sleep 1; $LSM get K > /dev/null; echo ppid=$(cut -d' ' -f4 /proc/$$/stat) > ${out}\n`);
  const r = sh(`prlimit --pid $LSM_SHIELD --nofile=3:3 || exit 9; setsid sh ${daemon} & exit 0`, true);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /internal error/);
  for (let i = 0; i < 200 && !existsSync(out); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
  rmSync(out, { force: true });
  assert.doesNotMatch(text, /ppid=1\n/, 'the daemon outlived the shield');
  assert.equal(lastGetEvent()?.actor.agent_marker, 'shield');
  assert.deepEqual(running(daemon), []);
});

test('lsm --dir H shield: the homes LSM_DIR and ~/.lsm name are unreadable too, and lsm inside uses H', { skip: shieldSkip }, () => {
  setUp();
  // Two more homes of the user, unprotected (a plaintext key.txt): the one LSM_DIR names in
  // the environment and the default ~/.lsm. The shield protected only --dir's, and the
  // command inherited LSM_DIR: lsm inside used a home the shield did not protect.
  const other = join(base, 'other');
  const dflt = join(base, '.lsm');
  for (const h of [other, dflt]) {
    const r = runAs(LSM_CMD, [...LSM_PRE, 'init'], { env: cleanEnv({ LSM_DIR: h, HOME: base }), cwd: base });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(runAs(LSM_CMD, [...LSM_PRE, 'set', 'a', 'dev', 'K', CANARY], { env: cleanEnv({ LSM_DIR: h, HOME: base }), cwd: base }).status, 0);
  }
  try {
    const script = `echo dir=$LSM_DIR; cat ${other}/key.txt ${other}/a.dev.age ${dflt}/key.txt`;
    const run = (shielded: boolean) => runAs(LSM_CMD, shielded ? [...LSM_PRE, '--dir', home, 'shield', '--', 'sh', '-c', script] : ['sh', '-c', script], { env: env({ LSM_DIR: other }), cwd: proj });
    const outside = runAs('sh', ['-c', script], { env: env({ LSM_DIR: other }), cwd: proj });
    assert.match(String(outside.stdout), /AGE-SECRET-KEY/, 'the control cannot read the other homes: the check could not fail');
    const r = run(true);
    assert.match(String(r.stdout), new RegExp(`dir=${home}\\n`), r.stderr);
    assert.doesNotMatch(String(r.stdout), /AGE-SECRET-KEY|age-encryption/, 'a home the shield did not protect was read inside it');
    assert.match(String(r.stderr), DENIED);
  } finally {
    rmSync(other, { recursive: true, force: true });
    rmSync(dflt, { recursive: true, force: true });
  }
});

test('orphans that end while the command runs are reaped, not left as zombies of the shield for the session', { skip: shieldSkip }, () => {
  setUp();
  // Each (cmd &) orphan ends as a child of the shield (its subreaper); no one reaped them
  // before the command ended, so a long session gathered a zombie per daemon that ended.
  const zombies = 'ps -o stat= --ppid $LSM_SHIELD | grep -c Z';
  const r = sh(`for i in 1 2 3 4 5; do (sleep 0 &); done; i=0; while [ $i -lt 300 ] && [ "$(${zombies})" -gt 0 ]; do sleep 0.1; i=$((i+1)); done; echo zombies=$(${zombies})`, true);
  assert.match(r.stdout, /zombies=0\n/, r.stderr);
});
