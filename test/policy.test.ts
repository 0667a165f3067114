import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, initHome, lsm, lsmCommand, tempDir, type RunResult } from './helpers.js';
import { callerClass, cleanReason, evaluate, parsePolicy, type CallerClass, type Decision } from '../src/policy.js';
import { parseConfigText } from '../src/config.js';

const VALUE = 'pol1cy-v4lue-9d2e-SECRET';
const hasScript = spawnSync('script', ['--version']).status === 0;

async function policyOf(yaml: string) {
  return parsePolicy(await parseConfigText(yaml, 'config.yaml'), 'config.yaml');
}

// ------------------------------------------------------------------ unit

test('defaults: reason for agents on prod*, allow elsewhere and for everyone else', async () => {
  const p = await policyOf('env: dev\n');
  assert.equal(p.error, undefined);
  const d = (c: CallerClass, env: string) => evaluate(p, c, 'app', env).decision;
  assert.equal(d('agent', 'prod'), 'reason');
  assert.equal(d('agent', 'production'), 'reason');
  assert.equal(d('agent', 'dev'), 'allow');
  assert.equal(d('agent', 'preprod'), 'allow', 'prod* is a prefix glob');
  for (const c of ['unattended', 'human'] as const) assert.equal(d(c, 'prod'), 'allow');
  assert.equal(evaluate(p, 'agent', 'app', 'prod').rule, 'default agent prod*=reason');
  // Regardless of case: a case-insensitive file system opens web.PROD.age as web.prod.age.
  assert.equal(d('agent', 'PROD'), 'reason');
  assert.equal(d('agent', 'Production'), 'reason');
});

test('a key spelled with a YAML escape ("pol\\u0069cy") is still read as the policy', async () => {
  const home = initHome();
  writeFileSync(join(home, 'config.yaml'), 'env: dev\n"pol\\u0069cy":\n  agent: deny\n');
  lsm(['set', 'app', 'dev', 'K', VALUE], { home });
  const r = lsm(['get', 'app', 'dev', 'K'], { home, env: { CLAUDECODE: '1' } });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(r.stdout, '');
});

test('the most specific pattern wins, whatever the order; ties go to the stricter decision', async () => {
  const p = await policyOf([
    'policy:',
    '  agent:',
    '    "*": deny',
    '    "prod*": reason',
    '    "prod": allow',
    '    "billing/prod*": deny',
    '    "stag?": reason',
    '    "sta*": allow',
    '  unattended: deny',
    '  human:',
    '',
  ].join('\n'));
  assert.equal(p.error, undefined);
  const d = (c: CallerClass, app: string, env: string) => evaluate(p, c, app, env).decision;
  assert.equal(d('agent', 'web', 'prod'), 'allow', 'an exact name beats globs');
  assert.equal(d('agent', 'web', 'prod-eu'), 'reason');
  assert.equal(d('agent', 'billing', 'prod-eu'), 'deny', 'app/env pattern with more literals');
  assert.equal(d('agent', 'web', 'dev'), 'deny');
  assert.equal(d('agent', 'web', 'stage'), 'reason', 'stag? has 4 literals, sta* 3');
  assert.equal(d('unattended', 'web', 'anything'), 'deny', 'a scalar applies to every env');
  assert.equal(d('human', 'web', 'prod'), 'allow', 'an empty class allows');
  assert.equal(evaluate(p, 'agent', 'web', 'prod-eu').rule, 'agent prod*=reason');
  const tie = await policyOf('policy:\n  agent:\n    "p*d": allow\n    "pr*": deny\n');
  assert.equal(evaluate(tie, 'agent', 'a', 'prod').decision, 'deny');
});

test('a class written in config.yaml replaces its defaults; the others keep theirs', async () => {
  const p = await policyOf('policy:\n  unattended:\n    "prod*": deny\n');
  assert.equal(evaluate(p, 'unattended', 'a', 'prod').decision, 'deny');
  assert.equal(evaluate(p, 'agent', 'a', 'prod').decision, 'reason');
  const open = await policyOf('policy:\n  agent: allow\n');
  assert.equal(evaluate(open, 'agent', 'a', 'prod').decision, 'allow');
});

test('a malformed policy fails closed, with a message that names config.yaml', async () => {
  const bad = [
    'policy: allow',
    'policy:\n  robots: allow',
    'policy:\n  agent:\n    "prod*": maybe',
    'policy:\n  agent:\n    "../etc": allow',
    'policy:\n  agent:\n    "prod*":\n      nested: deny',
    // Lists read as mappings gave rules for envs named "0", "1": the agent rules silently gone.
    'policy:\n  agent: [deny]',
    'policy:\n  agent: []\n  unattended: [deny]',
    'policy: []',
  ];
  for (const yaml of bad) {
    const p = await policyOf(yaml);
    assert.match(p.error ?? '', /^config\.yaml: /, yaml);
    for (const c of ['agent', 'unattended', 'human'] as const) {
      assert.deepEqual(evaluate(p, c, 'app', 'dev'), { decision: 'deny', rule: 'invalid-policy' }, yaml);
    }
  }
});

test('caller class: agent marker first, then a terminal', () => {
  assert.equal(callerClass({ agent_marker: 'claude', tty: '/dev/pts/1' }), 'agent');
  assert.equal(callerClass({ agent_marker: '', tty: '/dev/pts/1' }), 'human');
  assert.equal(callerClass({ agent_marker: '', tty: '' }), 'unattended');
  assert.equal(callerClass({ agent_marker: '', tty: '/dev/null' }), 'unattended');
});

test('reasons are one line of at most 200 characters, without control characters', () => {
  assert.equal(cleanReason(undefined), undefined);
  assert.equal(cleanReason('  \n\t '), undefined);
  assert.equal(cleanReason('fix\u001b[31m the\nbuild\u202e'), 'fix [31m the build');
  const long = cleanReason('x'.repeat(500))!;
  assert.equal(Array.from(long).length, 200);
  assert.ok(long.endsWith('…'));
});

// ------------------------------------------------------------------ end to end

function events(home: string, name?: string): { event: string; outcome: string; env?: string; fields?: Record<string, unknown> }[] {
  const rows = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return name ? rows.filter((r) => r.event === name) : rows;
}

const CELLS_CONFIG = `env: dev
policy:
  agent:
    "open": allow
    "ask": reason
    "shut": deny
  unattended:
    "open": allow
    "ask": reason
    "shut": deny
  human:
    "open": allow
    "ask": reason
    "shut": deny
`;

function cellsHome(): string {
  const home = initHome();
  for (const env of ['open', 'ask', 'shut']) assert.equal(lsm(['set', 'app', env, 'TOKEN', VALUE], { home }).code, 0);
  writeFileSync(join(home, 'config.yaml'), CELLS_CONFIG);
  return home;
}

/** Runs `lsm get` as an agent, an unattended caller or a human (on a terminal made by script(1)). */
function getAs(cls: CallerClass, home: string, args: string[], extraEnv: Record<string, string> = {}): RunResult {
  if (cls !== 'human') return lsm(['get', ...args], { home, env: { ...(cls === 'agent' ? { CLAUDECODE: '1' } : {}), ...extraEnv } });
  const [node, pre] = lsmCommand();
  const cmd = [node, ...pre, 'get', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', input: '', timeout: 20000, env: cleanEnv({ LSM_DIR: home, ...extraEnv }) });
  // script(1) merges stdout and stderr onto the terminal.
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stdout };
}

// `ask` needs a protected home: its cells are in approval.test.ts.
const EXPECT: Record<Exclude<Decision, 'ask'>, { bare: number; withReason: number }> = {
  allow: { bare: 0, withReason: 0 },
  reason: { bare: 4, withReason: 0 },
  deny: { bare: 4, withReason: 4 },
};
const ENV_OF: Record<Exclude<Decision, 'ask'>, string> = { allow: 'open', reason: 'ask', deny: 'shut' };

for (const cls of ['agent', 'unattended', 'human'] as const) {
  test(`policy cells for ${cls} callers: allow, reason and deny, with and without a reason`, { skip: cls === 'human' && !hasScript && 'util-linux script is not installed' }, () => {
    const home = cellsHome();
    for (const decision of ['allow', 'reason', 'deny'] as const) {
      const env = ENV_OF[decision];
      const bare = getAs(cls, home, ['app', env, 'TOKEN']);
      assert.equal(bare.code, EXPECT[decision].bare, `${cls}/${decision}: ${bare.stderr}`);
      const last = events(home, 'get').at(-1)!;
      if (bare.code === 0) {
        assert.ok(bare.stdout.includes(VALUE));
        assert.equal(last.outcome, 'ok');
      } else {
        assert.ok(!bare.stdout.includes(VALUE) && !bare.stderr.includes(VALUE), 'a refusal never shows the value');
        assert.match(bare.stderr, decision === 'reason' ? /refused: plaintext of ask secrets to .* needs a reason/ : /refused: plaintext of shut secrets to .* is denied/);
        assert.match(bare.stderr, /hint: ask the user to run it, use 'lsm exec -- <cmd>'/);
        assert.equal(last.outcome, 'denied');
        assert.equal(last.fields!.caller, cls);
        assert.equal(last.fields!.policy, `${cls} ${env}=${decision}`);
        assert.equal(last.fields!.key, 'TOKEN');
      }
      const why = getAs(cls, home, ['--reason', `checking ${decision}`, 'app', env, 'TOKEN']);
      assert.equal(why.code, EXPECT[decision].withReason, `${cls}/${decision} with a reason: ${why.stderr}`);
      const ev = events(home, 'get').at(-1)!;
      assert.equal(ev.fields!.reason, `checking ${decision}`, 'the reason is recorded either way');
      assert.equal(ev.outcome, why.code === 0 ? 'ok' : 'denied');
    }
    assert.ok(!readFileSync(join(home, 'audit.jsonl'), 'utf8').includes(VALUE));
  });
}

test('a second agent marker (LSM_AGENT) and LSM_REASON are honoured', () => {
  const home = cellsHome();
  assert.equal(lsm(['get', 'app', 'ask', 'TOKEN'], { home, env: { LSM_AGENT: 'nightly-bot' } }).code, 4);
  const r = lsm(['get', 'app', 'ask', 'TOKEN'], { home, env: { LSM_AGENT: 'nightly-bot', LSM_REASON: 'rotate keys' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, VALUE);
  assert.equal(events(home, 'get').at(-1)!.fields!.reason, 'rotate keys');
});

test('default policy end to end: an agent needs a reason for prod*, nobody else does', () => {
  const home = initHome();
  for (const env of ['prod', 'production', 'dev']) lsm(['set', 'app', env, 'TOKEN', VALUE], { home });
  const agent = { CLAUDECODE: '1' };
  const r = lsm(['get', 'app', 'prod', 'TOKEN'], { home, env: agent });
  assert.equal(r.code, 4);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, [
    'lsm: refused: plaintext of prod secrets to an agent needs a reason (policy: default agent prod*=reason)',
    `hint: ask the user to run it, use 'lsm exec -- <cmd>' (the secrets reach the command, not you), or pass --reason "why" (or LSM_REASON); the reason is recorded in the audit log`,
    '',
  ].join('\n'));
  assert.equal(lsm(['get', 'app', 'production', 'TOKEN'], { home, env: agent }).code, 4);
  assert.equal(lsm(['get', 'app', 'dev', 'TOKEN'], { home, env: agent }).code, 0);
  assert.equal(lsm(['get', 'app', 'prod', 'TOKEN'], { home }).code, 0, 'unattended: allowed, recorded');
  // A refusal comes before the store is read: a missing key is not told apart from a present one.
  const missing = lsm(['get', 'app', 'prod', 'NOPE'], { home, env: agent });
  assert.equal(missing.code, 4);
});

test('a policy in a project .lsm.yaml is ignored: only config.yaml can set it', () => {
  const home = initHome();
  lsm(['set', 'app', 'prod', 'TOKEN', VALUE], { home });
  const project = tempDir();
  writeFileSync(join(project, '.lsm.yaml'), 'app: app\nenv: prod\npolicy:\n  agent: allow\n');
  assert.equal(lsm(['link', 'app'], { home, cwd: project }).code, 0);
  const r = lsm(['get', 'TOKEN'], { home, cwd: project, env: { CLAUDECODE: '1' } });
  assert.equal(r.code, 4, r.stderr);
  assert.equal(lsm(['get', 'TOKEN'], { home, cwd: project }).stdout, VALUE, 'the project file still picks the store');
});

test('a malformed policy refuses every plaintext read, names config.yaml, and leaves other commands alone', () => {
  const home = initHome();
  lsm(['set', 'app', 'dev', 'TOKEN', VALUE], { home });
  writeFileSync(join(home, 'config.yaml'), 'env: dev\npolicy:\n  agents:\n    "*": allow\n');
  for (const env of [{}, { CLAUDECODE: '1' }, { LSM_REASON: 'please' }]) {
    const r = lsm(['get', 'app', 'dev', 'TOKEN'], { home, env });
    assert.equal(r.code, 4);
    assert.match(r.stderr, /the egress policy cannot be read.*config\.yaml: unknown caller class policy\.agents/);
    assert.match(r.stderr, /hint: fix 'policy:' in config\.yaml/);
    assert.ok(!r.stdout.includes(VALUE));
  }
  assert.equal(events(home, 'get').at(-1)!.fields!.policy, 'invalid-policy');
  assert.equal(lsm(['list', 'app', 'dev'], { home }).stdout, 'TOKEN\n');
  // Broken YAML fails closed too (before the policy is even looked at).
  writeFileSync(join(home, 'config.yaml'), 'env: dev\npolicy: [unclosed\n');
  assert.notEqual(lsm(['get', 'app', 'dev', 'TOKEN'], { home }).code, 0);
});

test('--reason works through commander (the fast path hands over unknown flags)', () => {
  const home = initHome();
  lsm(['set', 'app', 'prod', 'TOKEN', VALUE], { home });
  const dir = join(tempDir(), 'x');
  mkdirSync(dir);
  const r = lsm(['get', '--reason=deploy hotfix', 'app', 'prod', 'TOKEN'], { home, cwd: dir, env: { CLAUDECODE: '1' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(events(home, 'get').at(-1)!.fields!.reason, 'deploy hotfix');
});
