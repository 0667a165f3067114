// `printf 'abc\003def\n' | lsm exec -- cmd` and `lsm exec -- psql < migration.sql` typed at
// a terminal: stdout and stderr are the terminal, stdin is a pipe. lsm runs inside a
// tmux session here (so its stdout really is a terminal) with a pipe on its stdin, and
// the child writes what it read to a file, byte for byte.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, initHome, lsm, lsmCommand, tempDir } from './helpers.js';

const hasTmux = spawnSync('tmux', ['-V'], { stdio: 'ignore' }).status === 0;
const SECRET = 'stdin-test-secret-7f3a91c2';
const INPUT = Buffer.from('abc\x03def\n\x04ghi\x1a\n', 'latin1');

const servers: string[] = [];
after(() => {
  for (const s of servers) spawnSync('tmux', ['-L', s, 'kill-server'], { stdio: 'ignore' });
});

const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `input | lsm <args>` in a tmux pane; the child gets `sh -c 'cat > got; printf
 * "%s|" "$TOKEN"; test -t 1 && echo tty'`. Returns the bytes the child read, lsm's exit
 * code and what the pane shows.
 */
async function piped(home: string, args: string[], input: Buffer, env: Record<string, string> = {}): Promise<{ got: Buffer; code: string; pane: string }> {
  const dir = tempDir('lsm-tmux-');
  writeFileSync(join(dir, 'input'), input);
  const [node, pre] = lsmCommand();
  const child = `cat > ${q(join(dir, 'got'))}; printf '%s|' "$TOKEN"; if test -t 1; then echo tty; else echo notty; fi`;
  const exports = Object.entries({ LSM_DIR: home, ...env }).map(([k, v]) => `export ${k}=${q(v)}`).join('; ');
  writeFileSync(join(dir, 'run.sh'), [
    exports,
    `cat ${q(join(dir, 'input'))} | ${[node, ...pre, ...args, '--', 'sh', '-c', child].map(q).join(' ')}`,
    `echo $? > ${q(join(dir, 'rc'))}`,
    'sleep 60',
    '',
  ].join('\n'));
  const server = `lsm-test-${process.pid}-${servers.length}`;
  servers.push(server);
  const start = spawnSync('tmux', ['-L', server, '-f', '/dev/null', 'new-session', '-d', '-x', '100', '-y', '30', `sh ${q(join(dir, 'run.sh'))}`], { env: cleanEnv() });
  assert.equal(start.status, 0, String(start.stderr));
  const end = Date.now() + 60000;
  while (!existsSync(join(dir, 'rc')) && Date.now() < end) await sleep(100);
  await sleep(200);
  const pane = spawnSync('tmux', ['-L', server, 'capture-pane', '-p'], { encoding: 'utf8' }).stdout ?? '';
  spawnSync('tmux', ['-L', server, 'kill-server'], { stdio: 'ignore' });
  const code = existsSync(join(dir, 'rc')) ? readFileSync(join(dir, 'rc'), 'utf8').trim() : 'none';
  const got = existsSync(join(dir, 'got')) ? readFileSync(join(dir, 'got')) : Buffer.alloc(0);
  return { got, code, pane };
}

function secretHome(): string {
  const home = initHome();
  const r = lsm(['set', 'app', 'dev', 'TOKEN', '-'], { home, input: SECRET });
  assert.equal(r.code, 0, r.stderr);
  return home;
}

const lastExec = (home: string) => readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === 'exec').at(-1);

test('a person at a terminal piping into exec: the child reads the bytes untouched, output shown as is', { skip: !hasTmux && 'tmux is not installed' }, async () => {
  const home = secretHome();
  const r = await piped(home, ['exec', 'app', 'dev'], INPUT);
  assert.equal(r.code, '0', r.pane);
  assert.deepEqual([...r.got], [...INPUT], 'the child read exactly what was piped in, \\x03 included');
  assert.match(r.pane, new RegExp(`${SECRET}\\|tty`), 'a person at a terminal gets plain output on the terminal');
  const ev = lastExec(home);
  assert.match(ev.actor.tty, /^\/dev\/pts\/\d+$/, 'the terminal is recorded although stdin is a pipe');
  assert.deepEqual([ev.fields.mask, ev.fields.mask_source], [false, 'default'], 'a person at a terminal is not an unattended caller');
});

test('exec --mask at a terminal with a piped stdin: the child reads the bytes untouched, output masked', { skip: !hasTmux && 'tmux is not installed' }, async () => {
  const home = secretHome();
  const r = await piped(home, ['exec', 'app', 'dev', '--mask'], INPUT);
  assert.equal(r.code, '0', r.pane);
  assert.deepEqual([...r.got], [...INPUT], 'the child read exactly what was piped in, \\x03 included');
  assert.ok(!r.pane.includes(SECRET), r.pane);
  assert.match(r.pane, /\|notty/, 'with stdin not a terminal, the masked child gets pipes, not a pseudo-terminal');
  assert.ok(!r.pane.includes('abc'), 'the input was not echoed to the terminal');
  const ev = lastExec(home);
  assert.deepEqual([ev.fields.mask, ev.fields.mask_source], [true, 'flag']);
});

test('an agent marker with a piped stdin at a terminal: masked by default, the input untouched', { skip: !hasTmux && 'tmux is not installed' }, async () => {
  const home = secretHome();
  const r = await piped(home, ['exec', 'app', 'dev'], INPUT, { CLAUDECODE: '1' });
  assert.equal(r.code, '0', r.pane);
  assert.deepEqual([...r.got], [...INPUT]);
  assert.ok(!r.pane.includes(SECRET), r.pane);
  const ev = lastExec(home);
  assert.ok(ev.actor.agent_marker, 'the marker was seen');
  assert.deepEqual([ev.fields.mask, ev.fields.mask_source], [true, 'default']);
});
