import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { lsm, lsmCommand, initHome, tempDir, cleanEnv, type RunResult } from './helpers.js';
import { repoFromRemote, stripUserinfo, checkRepo, summarize, parseSecretList, checkPushable } from '../src/github.js';
import { compare, driftReasons } from '../src/commands/gh-status.js';
import { LsmError } from '../src/errors.js';

// The stand-in gh (test/fixtures/gh/gh-fake.cjs documents the real output shapes it copies).
const FAKE = resolve('test/fixtures/gh');
chmodSync(join(FAKE, 'gh'), 0o755);

const CANARY = 'CANARY-5d1e9b7f-never-leaves-stdin';
const SECRETS: Record<string, string> = {
  DB_URL: 'postgres://app:pw-Zq81@db.internal/app',
  API_KEY: 'sk_live_51Habc',
  EMPTY: '',
  MULTI: '-----BEGIN KEY-----\nMIIBOgIBAAJBAK\nline three\n-----END KEY-----',
  CANARY_TOKEN: CANARY,
  lower_key: 'lower value with spaces',
};
// Byte order, as Go's sort.Strings: upper case before lower case.
const SORTED = ['API_KEY', 'CANARY_TOKEN', 'DB_URL', 'EMPTY', 'MULTI', 'lower_key'];
const VALUES = Object.values(SECRETS).filter((v) => v !== '');

interface Project {
  home: string;
  dir: string;
  log: string;
  state: string;
  env: Record<string, string | undefined>;
}

function git(cwd: string, ...args: string[]): void {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

function project(opts: { remote?: string | null; secrets?: Record<string, string>; remoteState?: object } = {}): Project {
  const home = initHome();
  const dir = tempDir('lsm-gh-proj-');
  git(dir, 'init', '-q');
  const remote = opts.remote === undefined ? 'git@github.com:acme/widget.git' : opts.remote;
  if (remote !== null) git(dir, 'remote', 'add', 'origin', remote);
  const scratch = tempDir('lsm-gh-fake-');
  const p: Project = {
    home,
    dir,
    log: join(scratch, 'calls.jsonl'),
    state: join(scratch, 'state.json'),
    env: {},
  };
  p.env = {
    PATH: `${FAKE}:${dirname(process.execPath)}:${process.env.PATH}`,
    GH_FAKE_LOG: p.log,
    GH_FAKE_STATE: p.state,
    GH_FAKE_NODE: process.execPath,
  };
  if (opts.remoteState) writeFileSync(p.state, JSON.stringify(opts.remoteState));
  assert.equal(lsm(['link', 'widget'], { home, cwd: dir }).code, 0);
  for (const [k, v] of Object.entries(opts.secrets ?? SECRETS)) {
    // An empty value is given as one: an empty stdin is refused.
    const r = v === '' ? lsm(['set', k, ''], { home, cwd: dir }) : lsm(['set', k, '-'], { home, cwd: dir, input: v });
    assert.equal(r.code, 0, r.stderr);
  }
  return p;
}

function run(p: Project, args: string[], extra: Record<string, string | undefined> = {}, cwd = p.dir): RunResult {
  return lsm(args, { home: p.home, cwd, env: { ...p.env, ...extra } });
}

interface Call {
  argv: string[];
  stdin?: string;
}

function calls(p: Project): Call[] {
  if (!existsSync(p.log)) return [];
  return readFileSync(p.log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Call);
}

function audit(p: Project): { event: string; outcome?: string; app?: string; env?: string; fields?: Record<string, unknown> }[] {
  const path = join(p.home, 'audit.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

function remoteNames(p: Project, scope = 'acme/widget'): string[] {
  if (!existsSync(p.state)) return [];
  return Object.keys(JSON.parse(readFileSync(p.state, 'utf8'))[scope] ?? {}).sort();
}

function assertNoValueInArgv(p: Project): void {
  for (const c of calls(p)) {
    for (const a of c.argv) {
      for (const v of VALUES) assert.ok(!a.includes(v), `a value reached gh's argv: ${JSON.stringify(c.argv)}`);
    }
  }
}

const sets = (p: Project) => calls(p).filter((c) => c.argv[0] === 'secret' && c.argv[1] === 'set');

describe('gh push', () => {
  test('--force sends every value on stdin, in name order, never in argv; audits names; writes the marker', () => {
    const p = project();
    const r = run(p, ['gh', 'push', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `About to set 6 secret(s) on acme/widget:\n${SORTED.map((n) => `  ${n}\n`).join('')}Set 6 secret(s) on acme/widget\n`);

    const s = sets(p);
    assert.deepEqual(s.map((c) => c.argv), SORTED.map((n) => ['secret', 'set', n, '--repo', 'acme/widget']));
    for (const c of s) assert.equal(c.stdin, SECRETS[c.argv[2]!], `stdin of ${c.argv[2]}`);
    assertNoValueInArgv(p);
    assert.deepEqual(calls(p)[0]!.argv, ['auth', 'status', '--hostname', 'github.com']);

    for (const out of [r.stdout, r.stderr, readFileSync(join(p.home, 'audit.jsonl'), 'utf8')]) {
      for (const v of VALUES) assert.ok(!out.includes(v), 'a value was printed or audited');
    }
    const events = audit(p).filter((e) => e.event.startsWith('gh_'));
    assert.deepEqual(events.map((e) => e.event), ['gh_push_intent', 'gh_push']);
    assert.deepEqual(events[0]!.fields, { repo: 'acme/widget', target: 'repo', names: SORTED, count: 6, prune: false });
    assert.equal(events[1]!.outcome, 'ok');
    assert.equal(events[1]!.app, 'widget');
    assert.equal(events[1]!.env, 'dev');
    assert.deepEqual(events[1]!.fields, { repo: 'acme/widget', target: 'repo', names: SORTED, count: 6 });

    const config = readFileSync(join(p.home, 'config.yaml'), 'utf8');
    assert.match(config, /^# lsm configuration \(created by lsm init\)$/m, 'comments are kept');
    assert.match(config, /^# Audit log:/m);
    assert.match(config, /github:\n {2}widget:\n {4}repo: acme\/widget\n {4}target: actions\n {4}env: dev\n {4}last_pushed: "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\n {4}last_count: 6\n/);
  });

  test('off a terminal without --force it refuses before sending anything', () => {
    const p = project();
    const r = run(p, ['gh', 'push']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refusing to proceed without confirmation \(not a terminal\); re-run with --force/);
    assert.equal(sets(p).length, 0);
    assert.equal(audit(p).filter((e) => e.event.startsWith('gh_')).length, 0);
    assert.doesNotMatch(readFileSync(join(p.home, 'config.yaml'), 'utf8'), /github:/);
  });

  test('-y is --force; a subdirectory of the linked project works', () => {
    const p = project({ secrets: { ONE: '1' } });
    const sub = join(p.dir, 'src', 'lib');
    mkdirSync(sub, { recursive: true });
    const r = run(p, ['gh', 'push', '-y'], {}, sub);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(remoteNames(p), ['ONE']);
  });

  test('a failure stops the push, says how far it got, and is audited with the names set so far', () => {
    const p = project();
    const r = run(p, ['gh', 'push', '--force'], { GH_FAKE_FAIL_ON: 'DB_URL' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /lsm: 2 of 6 secrets were set before failure on DB_URL: failed to set secret "DB_URL": HTTP 422/);
    assert.deepEqual(sets(p).map((c) => c.argv[2]), ['API_KEY', 'CANARY_TOKEN', 'DB_URL']);
    const push = audit(p).find((e) => e.event === 'gh_push')!;
    assert.equal(push.outcome, 'error');
    assert.deepEqual(push.fields, { repo: 'acme/widget', target: 'repo', names: ['API_KEY', 'CANARY_TOKEN'], count: 2, reason: 'set_failed', failed_on: 'DB_URL' });
    assert.doesNotMatch(readFileSync(join(p.home, 'config.yaml'), 'utf8'), /github:/, 'no marker after a partial push');
    for (const v of VALUES) assert.ok(!r.stderr.includes(v) && !r.stdout.includes(v));
  });

  test('a failure on the first secret is audited with no names', () => {
    const p = project();
    const r = run(p, ['gh', 'push', '--force'], { GH_FAKE_FAIL_ON: 'API_KEY' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /0 of 6 secrets were set before failure on API_KEY/);
    const push = audit(p).find((e) => e.event === 'gh_push')!;
    assert.deepEqual([push.outcome, push.fields?.names, push.fields?.count], ['error', [], 0]);
  });

  test('--prune deletes only the remote secrets with no local key (GitHub names ignore case)', () => {
    const at = '2026-01-02T03:04:05Z';
    const p = project({ remoteState: { 'acme/widget': { API_KEY: at, LOWER_KEY: at, STALE_TWO: at, OLD_ONE: at } } });
    const r = run(p, ['gh', 'push', '--force', '--prune']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /The following 2 remote secret\(s\) are not present locally and will be DELETED:\n {2}OLD_ONE\n {2}STALE_TWO\n/);
    assert.match(r.stdout, /Set 6 secret\(s\) on acme\/widget\nPruned 2 secret\(s\) no longer present locally\n$/);
    const deletes = calls(p).filter((c) => c.argv[1] === 'delete').map((c) => c.argv);
    assert.deepEqual(deletes, [
      ['secret', 'delete', 'OLD_ONE', '--repo', 'acme/widget'],
      ['secret', 'delete', 'STALE_TWO', '--repo', 'acme/widget'],
    ]);
    assert.deepEqual(remoteNames(p), ['API_KEY', 'CANARY_TOKEN', 'DB_URL', 'EMPTY', 'LOWER_KEY', 'MULTI']);
    const push = audit(p).find((e) => e.event === 'gh_push')!;
    assert.deepEqual(push.fields, { repo: 'acme/widget', target: 'repo', names: SORTED, count: 6, pruned: ['OLD_ONE', 'STALE_TWO'], pruned_count: 2 });
    assert.equal(audit(p).find((e) => e.event === 'gh_push_intent')!.fields?.prune, true);
  });

  test('a prune failure is reported and audited with what was deleted', () => {
    const at = '2026-01-02T03:04:05Z';
    const p = project({ secrets: { KEEP: 'k' }, remoteState: { 'acme/widget': { OLD_ONE: at, STALE_TWO: at } } });
    const r = run(p, ['gh', 'push', '--force', '--prune'], { GH_FAKE_FAIL_ON: 'STALE_TWO' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /1 of 2 remote secrets were deleted before failure on STALE_TWO: failed to delete secret STALE_TWO: HTTP 404/);
    const push = audit(p).find((e) => e.event === 'gh_push')!;
    assert.equal(push.outcome, 'error');
    assert.deepEqual(push.fields, { repo: 'acme/widget', target: 'repo', names: ['KEEP'], count: 1, pruned: ['OLD_ONE'], pruned_count: 1, reason: 'prune_failed', failed_on: 'STALE_TWO' });
  });

  test('--gh-env targets a deployment environment', () => {
    const p = project({ secrets: { ONE: '1' } });
    const r = run(p, ['gh', 'push', '--force', '--gh-env', 'production']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /About to set 1 secret\(s\) on acme\/widget \(environment "production"\):/);
    assert.deepEqual(sets(p)[0]!.argv, ['secret', 'set', 'ONE', '--repo', 'acme/widget', '--env', 'production']);
    assert.equal(audit(p).find((e) => e.event === 'gh_push')!.fields?.target, 'env:production');
    assert.match(readFileSync(join(p.home, 'config.yaml'), 'utf8'), /target: env:production/);
    assert.equal(run(p, ['gh', 'push', '--force', '--gh-env', '../x']).code, 2);
  });

  test('the lsm env comes from --env, not from the app', () => {
    const p = project({ secrets: { DEVONLY: 'd' } });
    assert.equal(lsm(['set', '-e', 'prod', 'PRODONLY', '-'], { home: p.home, cwd: p.dir, input: 'p' }).code, 0);
    const r = run(p, ['gh', 'push', '--force', '--env', 'prod']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sets(p).map((c) => c.argv[2]), ['PRODONLY']);
    assert.equal(audit(p).find((e) => e.event === 'gh_push')!.env, 'prod');
  });

  test('pushing is egress: an agent pushing prod* needs a reason by default; the reason is recorded', () => {
    const p = project({ secrets: { DEVONLY: 'd' } });
    assert.equal(lsm(['set', '-e', 'prod', 'PRODONLY', '-'], { home: p.home, cwd: p.dir, input: 'p-value' }).code, 0);
    const refused = run(p, ['gh', 'push', '--force', '--env', 'prod'], { LSM_AGENT: 'deploy-bot' });
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /^lsm: refused: pushing prod secrets to GitHub by an agent needs a reason \(policy: default agent prod\*=reason\)\n/);
    assert.deepEqual(sets(p), [], 'nothing was sent');
    const denied = audit(p).filter((e) => e.event === 'gh_push');
    assert.equal(denied.length, 1);
    assert.equal(denied[0]!.outcome, 'denied');
    assert.equal(denied[0]!.fields?.policy, 'default agent prod*=reason');

    const ok = run(p, ['gh', 'push', '--force', '--env', 'prod', '--reason', 'first deploy'], { LSM_AGENT: 'deploy-bot' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(sets(p).map((c) => c.argv[2]), ['PRODONLY']);
    const intent = audit(p).find((e) => e.event === 'gh_push_intent')!;
    assert.equal(intent.fields?.reason, 'first deploy');
    assert.equal(intent.fields?.policy, 'default agent prod*=reason');
    // The dev env stays open to agents under the defaults.
    assert.equal(run(p, ['gh', 'push', '--force'], { LSM_AGENT: 'deploy-bot' }).code, 0);
  });

  test('canaries stay home unless --with-canaries: CI runs raise no alarm against the owner', () => {
    const p = project({ secrets: { ONE: '1' } });
    assert.equal(lsm(['canary', 'add', 'widget', 'dev', 'STRIPE_LIVE_KEY'], { home: p.home, cwd: p.dir }).code, 0);
    const r = run(p, ['gh', 'push', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'About to set 1 secret(s) on acme/widget:\n  ONE\nSet 1 secret(s) on acme/widget\n');
    assert.deepEqual(sets(p).map((c) => c.argv[2]), ['ONE']);
    assert.deepEqual(remoteNames(p), ['ONE']);
    assert.equal(audit(p).filter((e) => e.event === 'canary.read').length, 0);
    const status = run(p, ['gh', 'status']);
    assert.match(status.stdout, /Local only — would be pushed \(0\):/);
  });

  test('with --with-canaries a canary is recorded as read before it is pushed', () => {
    const p = project({ secrets: { ONE: '1' } });
    assert.equal(lsm(['canary', 'add', 'widget', 'dev', 'STRIPE_LIVE_KEY'], { home: p.home, cwd: p.dir }).code, 0);
    const r = run(p, ['gh', 'push', '--force', '--with-canaries']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sets(p).map((c) => c.argv[2]), ['ONE', 'STRIPE_LIVE_KEY']);
    const events = audit(p).map((e) => e.event);
    const read = audit(p).find((e) => e.event === 'canary.read');
    assert.ok(read, `no canary.read in ${events.join(', ')}`);
    assert.equal(read.fields?.command, 'gh_push');
    assert.equal(read.fields?.key, 'STRIPE_LIVE_KEY');
    assert.ok(events.indexOf('canary.read') < events.indexOf('gh_push'), 'recorded before the values left');
  });

  test('a push from another env into the target the last push filled warns; the marker records the env', () => {
    const p = project({ secrets: { DB_URL: 'dev-db' } });
    assert.equal(lsm(['set', '--env', 'prod', 'DB_URL', 'prod-db'], { home: p.home, cwd: p.dir }).code, 0);
    const first = run(p, ['--env', 'prod', 'gh', 'push', '--force', '--reason', 'deploy']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(readFileSync(join(p.home, 'config.yaml'), 'utf8'), /^    env: prod$/m);
    assert.match(run(p, ['--env', 'prod', 'gh', 'status']).stdout, /lsm last pushed 1 secret\(s\) from env prod to acme\/widget actions/);
    const second = run(p, ['gh', 'push', '--force']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /^lsm: warning: the last push to acme\/widget was from widget\/prod; this push from widget\/dev overwrites its secrets of the same names \(use --gh-env to keep envs apart\)\n/);
    assert.equal(audit(p).filter((e) => e.event === 'gh_push_intent').at(-1)!.fields?.overwrites_env, 'prod');
    // The same env again, or another target: no warning.
    assert.doesNotMatch(run(p, ['gh', 'push', '--force']).stderr, /warning/);
    assert.doesNotMatch(run(p, ['--env', 'prod', 'gh', 'push', '--force', '--reason', 'deploy', '--gh-env', 'production']).stderr, /warning/);
  });

  test('names GitHub would refuse are rejected before anything is sent', () => {
    const p = project({ secrets: { GITHUB_TOKEN: 'x', OK: 'y' } });
    const r = run(p, ['gh', 'push', '--force']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /GitHub refuses secret names starting with GITHUB_: GITHUB_TOKEN/);
    assert.equal(sets(p).length, 0);
  });

  test('a value ending in a line break is sent, with a warning that gh trims it', () => {
    const p = project({ secrets: { NL: 'value\n\n' } });
    const r = run(p, ['gh', 'push', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: gh drops trailing line breaks from a value; NL will reach GitHub without them/);
    assert.equal(sets(p)[0]!.stdin, 'value\n');
  });
});

describe('gh push and gh status refuse clearly', () => {
  test('gh missing from PATH', () => {
    const p = project({ secrets: { ONE: '1' } });
    const empty = tempDir('lsm-gh-nopath-');
    for (const args of [['push', '--force'], ['status']]) {
      const r = run(p, ['gh', ...args, '--repo', 'acme/widget'], { PATH: empty });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the GitHub CLI \('gh'\) was not found on PATH; install it from https:\/\/cli\.github\.com\/ and run 'gh auth login'/);
    }
  });

  test('gh not logged in, or with an invalid token', () => {
    const p = project({ secrets: { ONE: '1' } });
    const r = run(p, ['gh', 'push', '--force'], { GH_FAKE_AUTH: 'none' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /gh is not authenticated; run 'gh auth login' first \(You are not logged into any GitHub hosts/);
    const s = run(p, ['gh', 'status'], { GH_FAKE_AUTH: 'invalid' });
    assert.equal(s.code, 1);
    assert.match(s.stderr, /gh is not authenticated; .*The token in keyring is invalid/);
    assert.equal(sets(p).length, 0);
  });

  test('no origin remote, not a git repository', () => {
    const p = project({ remote: null, secrets: { ONE: '1' } });
    const r = run(p, ['gh', 'push', '--force']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /lsm: this git repository has no 'origin' remote\nhint: .*--repo OWNER\/REPO/);
    assert.equal(run(p, ['gh', 'push', '--force', '--repo', 'acme/widget']).code, 0, '--repo needs no remote');
    const q = project({ secrets: { ONE: '1' } });
    const plain = tempDir('lsm-gh-nogit-');
    assert.equal(lsm(['link', 'other'], { home: q.home, cwd: plain }).code, 0);
    assert.equal(lsm(['set', 'ONE', '1'], { home: q.home, cwd: plain }).code, 0);
    const s = run(q, ['gh', 'status'], {}, plain);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /is not inside a git repository/);
  });

  test('a non-GitHub remote is named by its host, never with its credentials', () => {
    const p = project({ remote: 'https://deploy:glpat-SECRETTOKEN@gitlab.example.com/acme/widget.git', secrets: { ONE: '1' } });
    const r = run(p, ['gh', 'push', '--force']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the 'origin' remote is on "gitlab\.example\.com", not github\.com/);
    assert.ok(!r.stderr.includes('SECRETTOKEN') && !r.stderr.includes('deploy'));
    assert.equal(sets(p).length, 0);
  });

  test('a github.com remote with a token in it is accepted and the token goes nowhere', () => {
    const p = project({ remote: 'https://x-access-token:ghs_TOKEN123@github.com/acme/widget', secrets: { ONE: '1' } });
    const r = run(p, ['gh', 'push', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!(r.stdout + r.stderr).includes('ghs_TOKEN123'));
    assert.ok(!JSON.stringify(calls(p)).includes('ghs_TOKEN123'));
    assert.ok(!readFileSync(join(p.home, 'audit.jsonl'), 'utf8').includes('ghs_TOKEN123'));
    assert.deepEqual(sets(p)[0]!.argv.slice(3), ['--repo', 'acme/widget']);
  });

  test('an empty store', () => {
    const p = project({ secrets: {} });
    for (const cmd of ['push', 'status']) {
      const r = run(p, ['gh', cmd]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /no secrets found for widget\/dev; this project is not set up locally for this env \(run 'lsm set' \/ 'lsm import' first\)/);
    }
    assert.equal(calls(p).length, 0);
  });

  test('--app is refused; an unlinked directory is refused; .lsm.yaml cannot choose the app', () => {
    const p = project({ secrets: { ONE: '1' } });
    const r = run(p, ['--app', 'widget', 'gh', 'push', '--force']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /gh commands do not accept --app/);
    const elsewhere = tempDir('lsm-gh-unlinked-');
    const u = run(p, ['gh', 'status'], {}, elsewhere);
    assert.equal(u.code, 1);
    assert.match(u.stderr, new RegExp(`current directory is not a registered lsm project: ${elsewhere}\nhint: run 'lsm link <app>' here first`));
    assert.equal(lsm(['set', '-a', 'other', 'OTHER', 'o'], { home: p.home, cwd: p.dir }).code, 0);
    writeFileSync(join(p.dir, '.lsm.yaml'), 'app: other\n');
    const y = run(p, ['gh', 'push', '--force']);
    assert.equal(y.code, 0, y.stderr);
    assert.deepEqual(sets(p).map((c) => c.argv[2]), ['ONE']);
  });

  test('--repo must be OWNER/REPO', () => {
    const p = project({ secrets: { ONE: '1' } });
    for (const bad of ['widget', 'acme/widget/extra', '-x/y', 'acme/..', 'https://u:tok@github.com/a/b']) {
      const r = run(p, ['gh', 'push', '--force', `--repo=${bad}`]);
      assert.equal(r.code, 2, bad);
      assert.match(r.stderr, /invalid repository/);
      assert.ok(!r.stderr.includes('tok@'));
    }
  });
});

describe('gh status', () => {
  const at = '2026-01-02T03:04:05Z';

  test('prints the in-sync, local-only and remote-only sections', () => {
    const p = project({ secrets: { API_KEY: 'a', NEW_KEY: 'n', db_url: 'd' }, remoteState: { 'acme/widget': { API_KEY: at, DB_URL: at, OLD_KEY: '2025-12-31T23:59:59Z' } } });
    const r = run(p, ['gh', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, [
      'GitHub secrets status for acme/widget',
      '',
      'In sync (2):',
      `  API_KEY  (github updated ${at})`,
      `  db_url  (github updated ${at})`,
      '',
      'Local only — would be pushed (1):',
      '  NEW_KEY',
      '',
      'Remote only — on GitHub, not local (1):',
      '  OLD_KEY  (github updated 2025-12-31T23:59:59Z)',
      '',
    ].join('\n'));
    assert.deepEqual(calls(p).map((c) => c.argv), [
      ['auth', 'status', '--hostname', 'github.com'],
      ['secret', 'list', '--repo', 'acme/widget', '--json', 'name,updatedAt'],
    ]);
    const ev = audit(p).find((e) => e.event === 'gh_status')!;
    assert.deepEqual(ev.fields, { repo: 'acme/widget', target: 'repo', in_sync: 2, local_only: 1, remote_only: 1, drift: false });
  });

  test('after a push it shows the marker, without drift', () => {
    const p = project({ secrets: { ONE: '1', TWO: '2' } });
    assert.equal(run(p, ['gh', 'push', '--force']).code, 0);
    const r = run(p, ['gh', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /In sync \(2\):\n {2}ONE {2}\(github updated 2026-03-04T05:06:07Z\)\n {2}TWO /);
    assert.match(r.stdout, /\nLocal marker \(a hint only; live GitHub state above is authoritative\):\n {2}lsm last pushed 2 secret\(s\) from env dev to acme\/widget actions at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
    assert.doesNotMatch(r.stdout, /DRIFT/);
  });

  test('DRIFT: another repo or target in the marker, or nothing on GitHub', () => {
    const p = project({ secrets: { ONE: '1' } });
    assert.equal(run(p, ['gh', 'push', '--force']).code, 0);
    writeFileSync(p.state, '{}');
    const empty = run(p, ['gh', 'status']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stdout, / {2}DRIFT: the live GitHub state disagrees with this local marker:\n {4}- GitHub has no secrets for actions, but lsm pushed 1 there\n {2}Trust the live state above; the marker is only a local record of the last lsm push.\n$/);

    const other = run(p, ['gh', 'status', '--repo', 'acme/other', '--gh-env', 'staging']);
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stdout, /^GitHub secrets status for acme\/other \(environment "staging"\)\n/);
    assert.match(other.stdout, /DRIFT: .*\n {4}- the marker's repo acme\/widget is not the queried repo acme\/other\n {4}- the marker's target actions is not the queried target env:staging\n/);
    assert.ok(!other.stdout.includes('GitHub has no secrets'), 'the empty-remote rule applies only when repo and target match');
    assert.equal(audit(p).filter((e) => e.event === 'gh_status').at(-1)!.fields?.drift, true);
  });
});

// A real terminal through script(1), answering each prompt once it is shown (the
// prompt reads one line at a time and drops whatever was typed ahead).
function onTerminal(p: Project, args: string[], answers: [RegExp, string][]): Promise<{ code: number | null; out: string }> {
  const [bin, pre] = lsmCommand();
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [bin, ...pre, ...args].map(quote).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], {
    cwd: p.dir,
    env: cleanEnv({ LSM_DIR: p.home, ...p.env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const pending = [...answers];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    while (pending.length > 0 && pending[0]![0].test(out)) child.stdin.write(pending.shift()![1]);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
  return new Promise((done) => child.on('close', (code) => {
    clearTimeout(timer);
    done({ code, out });
  }));
}

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe('gh push on a terminal', { skip: !hasScript && 'script(1) is not installed' }, () => {
  test('declining the confirmation aborts with nothing sent', async () => {
    const p = project({ secrets: { ONE: '1' } });
    const r = await onTerminal(p, ['gh', 'push'], [[/Set 1 secret\(s\) on acme\/widget\? \[y\/N\] /, 'n\r']]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Aborted\./);
    assert.equal(sets(p).length, 0);
    assert.equal(audit(p).filter((e) => e.event.startsWith('gh_')).length, 0);
  });

  test('--prune asks again; declining it keeps the remote secrets', async () => {
    const p = project({ secrets: { ONE: '1' }, remoteState: { 'acme/widget': { OLD: '2026-01-02T03:04:05Z' } } });
    const r = await onTerminal(p, ['gh', 'push', '--prune'], [
      [/Set 1 secret\(s\) on acme\/widget\? \[y\/N\] /, 'y\r'],
      [/Delete 1 remote secret\(s\) from acme\/widget\? \[y\/N\] /, 'n\r'],
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /Prune aborted; secrets were set but nothing was deleted\./);
    assert.deepEqual(remoteNames(p), ['OLD', 'ONE']);
    assert.equal(calls(p).filter((c) => c.argv[1] === 'delete').length, 0);
    assert.equal(audit(p).find((e) => e.event === 'gh_push')!.outcome, 'ok');
  });

  test('accepting both deletes the stale secret', async () => {
    const p = project({ secrets: { ONE: '1' }, remoteState: { 'acme/widget': { OLD: '2026-01-02T03:04:05Z' } } });
    const r = await onTerminal(p, ['gh', 'push', '--prune'], [
      [/\? \[y\/N\] /, 'y\r'],
      [/Delete 1 remote secret\(s\) from acme\/widget\? \[y\/N\] /, 'yes\r'],
    ]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(remoteNames(p), ['ONE']);
    assert.match(r.out, /Pruned 1 secret\(s\) no longer present locally/);
  });
});

describe('github.ts', () => {
  const invalid = (fn: () => unknown, re: RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof LsmError && re.test(e.message) && !/tok|secret/i.test(e.message));

  test('the original\'s github.com remote forms', () => {
    for (const url of [
      'git@github.com:acme/widget.git', 'git@github.com:acme/widget', 'ssh://git@github.com/acme/widget.git',
      'https://github.com/acme/widget.git', 'https://github.com/acme/widget/', 'http://github.com/acme/widget',
      'https://user:tok@github.com/acme/widget.git', 'https://GitHub.com/acme/widget.git\n',
    ]) assert.equal(repoFromRemote(url), 'acme/widget', url);
  });

  test('other hosts, schemes and shapes are refused without echoing the URL', () => {
    invalid(() => repoFromRemote('git@gitlab.com:acme/widget.git'), /on "gitlab\.com", not github\.com/);
    invalid(() => repoFromRemote('https://tok:secret@ghe.corp.example/acme/widget'), /on "ghe\.corp\.example"/);
    invalid(() => repoFromRemote('ssh://git@github.com:22/acme/widget'), /on "github\.com:22"/);
    invalid(() => repoFromRemote('git://github.com/acme/widget'), /does not support/);
    invalid(() => repoFromRemote('/srv/git/widget.git'), /not a GitHub URL/);
    invalid(() => repoFromRemote('https://github.com/acme'), /OWNER\/REPO/);
    invalid(() => repoFromRemote('https://github.com/acme/widget/tree/main'), /OWNER\/REPO/);
  });

  test('stripUserinfo and checkRepo', () => {
    assert.equal(stripUserinfo('https://a:b@github.com/x/y'), 'https://github.com/x/y');
    assert.equal(stripUserinfo('git@github.com:x/y'), 'git@github.com:x/y');
    assert.equal(checkRepo('acme-co/my.repo_1'), 'acme-co/my.repo_1');
    assert.throws(() => checkRepo('acme'), /invalid repository/);
  });

  test('summarize keeps gh\'s message short and withholds one that quotes a value', () => {
    assert.equal(summarize('1 error occurred:\n\t* failed to set secret "X": HTTP 422: Bad\n\n'), 'failed to set secret "X": HTTP 422: Bad');
    assert.equal(summarize('oops: hunter22 rejected', ['', 'hunter22']), "gh's message withheld: it quotes a secret value");
    assert.equal(summarize(''), 'gh gave no message');
    assert.ok(summarize('x'.repeat(1000)).length < 310);
    assert.equal(summarize('\u001b[31mred\u001b[0m'), '?[31mred?[0m');
  });

  test('parseSecretList reads gh\'s JSON and refuses anything else', () => {
    assert.deepEqual(parseSecretList('[{"name":"X","updatedAt":"2026-01-02T03:04:05Z"}]\n'), [{ name: 'X', updatedAt: '2026-01-02T03:04:05Z' }]);
    assert.deepEqual(parseSecretList('[]\n'), []);
    assert.throws(() => parseSecretList('NAME  UPDATED\nX  about 1 day ago'), /did not print JSON/);
    assert.throws(() => parseSecretList('{"name":"X"}'), /not a list/);
    assert.throws(() => parseSecretList('[{"updatedAt":"x"}]'), /without a name/);
  });

  test('checkPushable: GITHUB_ prefix and names equal but for case', () => {
    assert.doesNotThrow(() => checkPushable(['A', 'B_GITHUB_C']));
    assert.throws(() => checkPushable(['github_x']), /GITHUB_: github_x/);
    assert.throws(() => checkPushable(['Db_Url', 'DB_URL']), /keys Db_Url and DB_URL name the same GitHub secret/);
  });

  test('compare and driftReasons', () => {
    const c = compare(['b', 'A', 'C'], [{ name: 'B', updatedAt: 't1' }, { name: 'Z', updatedAt: 't2' }]);
    assert.deepEqual(c, { inSync: [{ name: 'b', updatedAt: 't1' }], localOnly: ['A', 'C'], remoteOnly: [{ name: 'Z', updatedAt: 't2' }] });
    const m = { repo: 'a/b', target: 'actions', last_count: 3 };
    assert.deepEqual(driftReasons(m, { repo: 'a/b' }, 2), []);
    assert.equal(driftReasons(m, { repo: 'a/b' }, 0).length, 1);
    assert.equal(driftReasons(m, { repo: 'a/c', ghEnv: 'e' }, 0).length, 2);
  });
});

test('gh status --format json: the comparison as one document, names only', () => {
  const p = project({ secrets: { ONE: 'value-one-canary', TWO: '2' } });
  assert.equal(run(p, ['gh', 'push', '--force']).code, 0);
  assert.equal(lsm(['set', 'THREE', '3'], { home: p.home, cwd: p.dir }).code, 0);
  const s = run(p, ['gh', 'status', '--format', 'json']);
  assert.equal(s.code, 0, s.stderr);
  const j = JSON.parse(s.stdout);
  assert.deepEqual(j.in_sync.map((e: { name: string }) => e.name), ['ONE', 'TWO']);
  assert.deepEqual(j.local_only, ['THREE']);
  assert.deepEqual(j.remote_only, []);
  assert.deepEqual(j.drift, []);
  assert.ok(!s.stdout.includes('value-one-canary'));
  assert.equal(run(p, ['gh', 'status', '--format', 'xml']).code, 2);
});
