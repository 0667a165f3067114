import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { agentOfProcess, isShell, markerFromEnv } from '../src/audit/agents.js';
import { captureActor, type ProcInfo } from '../src/audit/actor.js';

test('no variable, no agent', () => {
  assert.deepEqual(markerFromEnv({ PATH: '/bin' }, false), { agent: '', source: '', session: '', vars: [], strong: false });
});

test('each agent is named by its own variable, with its session id', () => {
  const cases: Array<[NodeJS.ProcessEnv, string, string, string]> = [
    [{ CLAUDECODE: '1', CLAUDE_CODE_SESSION_ID: 'abc-123' }, 'claude', 'env:CLAUDECODE', 'abc-123'],
    [{ CLAUDE_CODE: '1' }, 'claude', 'env:CLAUDE_CODE', ''],
    [{ CODEX_THREAD_ID: 't-1', CODEX_SESSION_ID: 's-1' }, 'codex', 'env:CODEX_THREAD_ID', 't-1'],
    [{ CODEX_SANDBOX: 'seatbelt' }, 'codex', 'env:CODEX_SANDBOX', ''],
    [{ GEMINI_CLI: '1' }, 'gemini', 'env:GEMINI_CLI', ''],
    [{ COPILOT_AGENT: '1', AI_AGENT: 'github_copilot_vscode_agent' }, 'copilot', 'env:COPILOT_AGENT', ''],
    [{ CURSOR_AGENT: '1' }, 'cursor-agent', 'env:CURSOR_AGENT', ''],
    [{ CURSOR_EXTENSION_HOST_ROLE: 'agent-exec' }, 'cursor', 'env:CURSOR_EXTENSION_HOST_ROLE', ''],
    [{ CLINE_ACTIVE: 'true' }, 'cline', 'env:CLINE_ACTIVE', ''],
    [{ GOOSE_TERMINAL: '1', AGENT: 'goose' }, 'goose', 'env:GOOSE_TERMINAL', ''],
    [{ OPENCODE: '1' }, 'opencode', 'env:OPENCODE', ''],
    [{ AMP_CURRENT_THREAD_ID: 'T-9' }, 'amp', 'env:AMP_CURRENT_THREAD_ID', 'T-9'],
    [{ AI_AGENT: 'openhands' }, 'openhands', 'env:AI_AGENT', ''],
    [{ OPENHANDS_RUNTIME: 'x' }, 'openhands', 'env:OPENHANDS_RUNTIME', ''],
    [{ AIDER_PROCESS: '1' }, 'aider', 'env:AIDER_PROCESS', ''],
    [{ CONTINUE_SESSION_ID: 'c1' }, 'continue', 'env:CONTINUE_SESSION_ID', 'c1'],
    [{ OZ_RUN_ID: 'run-5' }, 'warp', 'env:OZ_RUN_ID', 'run-5'],
    [{ CRUSH: '1', AGENT: 'crush' }, 'crush', 'env:CRUSH', ''],
    [{ AGENT: 'SomeBot' }, 'somebot', 'env:AGENT', ''],
  ];
  for (const [env, agent, source, session] of cases) {
    const m = markerFromEnv(env, false);
    assert.deepEqual([m.agent, m.source, m.session, m.strong], [agent, source, session, true], JSON.stringify(env));
  }
});

test('precedence: LSM_AGENT first, AGENT=amp before CLAUDECODE, CLAUDECODE before CLAUDE_CODE', () => {
  assert.equal(markerFromEnv({ LSM_AGENT: 'night-job', CLAUDECODE: '1' }, false).agent, 'night-job');
  const amp = markerFromEnv({ AGENT: 'amp', CLAUDECODE: '1', AMP_CURRENT_THREAD_ID: 'T-1' }, false);
  assert.deepEqual([amp.agent, amp.source, amp.session], ['amp', 'env:AGENT', 'T-1']);
  assert.deepEqual(amp.vars, ['AGENT=amp', 'CLAUDECODE', 'AMP_CURRENT_THREAD_ID', 'AGENT=amp'].filter((v, i, a) => a.indexOf(v) === i));
  assert.equal(markerFromEnv({ CLAUDE_CODE: '1', CLAUDECODE: '1' }, false).source, 'env:CLAUDECODE');
  // The original's order among its own six is kept.
  assert.equal(markerFromEnv({ OPENHANDS_RUNTIME: '1', AIDER_PROCESS: '1' }, false).agent, 'aider');
});

test('weak variables are recorded, but name an agent only without a terminal', () => {
  for (const env of [{ CURSOR_TRACE_ID: 'x' }, { TERM_PROGRAM: 'kiro' }, { ZED_TERM: 'true' }]) {
    const tty = markerFromEnv(env, true);
    assert.equal(tty.agent, '', JSON.stringify(env));
    assert.equal(tty.vars.length, 1);
    const none = markerFromEnv(env, false);
    assert.notEqual(none.agent, '');
    assert.equal(none.strong, false);
  }
  assert.deepEqual(markerFromEnv({ TERM_PROGRAM: 'vscode' }, false).vars, []);
  // A strong variable wins over a weak one, terminal or not.
  assert.equal(markerFromEnv({ CURSOR_TRACE_ID: 'x', CURSOR_AGENT: '1' }, true).agent, 'cursor-agent');
});

test('values from the environment are cleaned: no payloads, no escapes', () => {
  const m = markerFromEnv({ LSM_AGENT: 'evil\u001b[31m name; rm -rf', CLAUDE_CODE_SESSION_ID: 'x' }, false);
  assert.match(m.agent, /^[a-z0-9._@+_-]+$/);
  const s = markerFromEnv({ CLAUDECODE: '1', CLAUDE_CODE_SESSION_ID: 'sk-live secret with spaces' }, false);
  assert.equal(s.session, '');
  assert.equal(markerFromEnv({ LSM_AGENT: 'x'.repeat(500) }, false).agent.length, 64);
});

test('process names: agents, shells, wrappers and interpreters', () => {
  assert.equal(agentOfProcess('claude'), 'claude');
  assert.equal(agentOfProcess('cursor-agent'), 'cursor-agent');
  assert.equal(agentOfProcess('/usr/local/bin/codex'), 'codex');
  assert.equal(agentOfProcess('node', '/usr/lib/node_modules/@google/gemini-cli/dist/index.js'), 'gemini');
  assert.equal(agentOfProcess('python3', '/home/u/.local/bin/aider'), 'aider');
  assert.equal(agentOfProcess('node', '/home/u/app/server.js'), undefined);
  assert.equal(agentOfProcess('vim', '/x/claude'), undefined);
  for (const s of ['bash', '-zsh', '/bin/sh', 'fish', 'env', 'sudo', 'timeout', 'npm exec lsm']) assert.ok(isShell(s), s);
  for (const s of ['claude', 'node', 'vim', 'sshd']) assert.ok(!isShell(s), s);
});

function table(...procs: Array<[number, number, string, string?]>): (pid: number) => ProcInfo | undefined {
  const m = new Map(procs.map(([pid, ppid, comm, script]) => [pid, { pid, ppid, comm, start: `2026-05-14T0${pid % 10}:00:00Z`, script: () => script }]));
  return (pid) => m.get(pid);
}

test('the ancestry goes up to the first process that is not a shell', () => {
  const proc = table([10, 9, 'bash'], [9, 8, 'sudo'], [8, 7, 'tmux: server'], [7, 1, 'systemd']);
  const a = captureActor({ env: {}, tty: '/dev/pts/3', proc, ppid: 10, pid: 11, cwd: '/w' });
  assert.deepEqual(a.ancestry?.map((p) => p.comm), ['bash', 'sudo', 'tmux: server']);
  assert.equal(a.ancestry?.[0].start, '2026-05-14T00:00:00Z');
  assert.equal(a.parent_comm, 'bash');
  assert.equal(a.ppid, 10);
  assert.equal(a.pid, 11);
  assert.equal(a.agent_marker, '');
  assert.equal(a.agent_source, undefined);
});

test('agent -> bash -> lsm names the agent from the ancestry when no variable does', () => {
  const proc = table([10, 9, 'bash'], [9, 1, 'claude']);
  const a = captureActor({ env: {}, tty: '', proc, ppid: 10 });
  assert.deepEqual([a.agent_marker, a.agent_source], ['claude', 'ancestry']);
  assert.deepEqual(a.ancestry?.map((p) => [p.pid, p.comm]), [[10, 'bash'], [9, 'claude']]);
  // Through a non-shell program (make): the walk goes on a few levels to find the agent.
  const deeper = captureActor({ env: {}, tty: '', proc: table([10, 9, 'bash'], [9, 8, 'python3'], [8, 7, 'bash'], [7, 1, 'codex']), ppid: 10 });
  assert.deepEqual([deeper.agent_marker, deeper.ancestry?.map((p) => p.comm)], ['codex', ['bash', 'python3', 'bash', 'codex']]);
  // A strong variable is believed over the ancestry; an ancestor beats a weak variable.
  assert.equal(captureActor({ env: { GEMINI_CLI: '1' }, tty: '', proc, ppid: 10 }).agent_marker, 'gemini');
  const weak = captureActor({ env: { CURSOR_TRACE_ID: 'x' }, tty: '', proc, ppid: 10 });
  assert.deepEqual([weak.agent_marker, weak.agent_source, weak.agent_vars], ['claude', 'ancestry', ['CURSOR_TRACE_ID']]);
});

test('the walk is bounded and survives loops and missing processes', () => {
  const loop = captureActor({ env: {}, tty: '', proc: table([10, 9, 'bash'], [9, 10, 'bash']), ppid: 10 });
  assert.deepEqual(loop.ancestry?.map((p) => p.pid), [10, 9]);
  const shells = Array.from({ length: 20 }, (_, i) => [100 - i, 99 - i, 'bash'] as [number, number, string]);
  assert.equal(captureActor({ env: {}, tty: '', proc: table(...shells), ppid: 100 }).ancestry?.length, 5);
  const gone = captureActor({ env: {}, tty: '', proc: () => undefined, ppid: 10 });
  assert.deepEqual([gone.parent_comm, gone.ancestry], ['', []]);
});

test('a real capture: pid, parent, and no TTY when stdin is /dev/null', () => {
  const script = "import('./src/audit/actor.ts').then(m => process.stdout.write(JSON.stringify(m.captureActor())))";
  const r = spawnSync('/bin/sh', ['-c', `${JSON.stringify(process.execPath)} --import tsx -e ${JSON.stringify(script)} < /dev/null; true`], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  const a = JSON.parse(r.stdout);
  assert.equal(a.tty, '');
  assert.equal(typeof a.pid, 'number');
  if (process.platform === 'linux') {
    assert.equal(a.parent_comm, 'sh');
    assert.equal(a.ancestry[0].comm, 'sh');
    assert.match(a.ancestry[0].start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(a.ancestry[0].pid, a.ppid);
  }
});

test('capture is cheap', () => {
  captureActor();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 20; i++) captureActor();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / 20;
  assert.ok(ms < 10, `${ms} ms per capture`);
});
