import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendEvent } from '../src/audit/log.js';
import { ACTOR, VECTOR_1, VECTOR_2, clock, writeLines, writeLog } from './audit-fixtures.js';
import { cleanEnv, lsm, lsmCommand, tempDir } from './helpers.js';

/** A home directory and, inside another directory, a log of `n` get events. */
function setup(n = 5): { home: string; file: string } {
  const root = tempDir('lsm-audit-cli-');
  const home = join(root, 'home');
  mkdirSync(home, { mode: 0o700 });
  const file = join(root, 'log.jsonl');
  writeLog(file, Array.from({ length: n }, (_, i) => ({ app: 'web', env: i % 2 ? 'prod' : 'dev', fields: { key: `K${i + 1}` } })));
  return { home, file };
}

function homeEvents(home: string): any[] {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

test('tail prints the last N stored lines as JSONL when piped', () => {
  const { home, file } = setup(5);
  const r = lsm(['audit', 'tail', '-n', '2', '--file', file], { home });
  assert.equal(r.code, 0, r.stderr);
  const stored = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(r.stdout, `${stored.slice(-2).join('\n')}\n`);
  assert.equal(lsm(['audit', 'tail', '-n', '0', '--file', file], { home }).stdout, '');
});

test('text format: aligned columns, local time, no colour when not a terminal', () => {
  const { home, file } = setup(3);
  const r = lsm(['audit', 'tail', '--format', 'text', '--file', file], { home, env: { TZ: 'UTC' } });
  assert.equal(r.code, 0, r.stderr);
  const [header, day, ...lines] = r.stdout.trimEnd().split('\n');
  assert.equal(header, 'TIME        SEQ  EVENT          APP/ENV        CALLER             KEYS, FIELDS');
  assert.equal(day, '── 2026-05-14 Thursday', 'the date once, above its rows');
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^12:00:00 +1 {2}get +web\/dev +agent claude +K1$/);
  assert.ok(!r.stdout.includes('\u001b['));
  const cols = [header, ...lines].map((l) => l.search(/get|EVENT/));
  assert.equal(new Set(cols).size, 1, 'columns line up under the header');
});

test('on a terminal, text is the default and is coloured unless NO_COLOR', () => {
  const { home, file } = setup(1);
  const [node, args] = lsmCommand();
  const cmd = [node, ...args, 'audit', 'tail', '--file', file].map((a) => `'${a}'`).join(' ');
  const run = (extra: Record<string, string>) =>
    spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: cleanEnv({ LSM_DIR: home, TERM: 'xterm', ...extra }) }).stdout;
  const coloured = run({});
  assert.match(coloured, /agent claude +K1/);
  assert.ok(coloured.includes('\u001b['));
  const plain = run({ NO_COLOR: '1' });
  assert.match(plain, /agent claude +K1/);
  assert.ok(!plain.includes('\u001b['));
});

test('show prints one event: indented JSON or labelled lines', () => {
  const { home, file } = setup(3);
  const j = lsm(['audit', 'show', '2', '--file', file, '--format', 'json'], { home });
  assert.equal(j.code, 0, j.stderr);
  assert.ok(j.stdout.startsWith('{\n  "schema_version": 2,\n  "seq": 2,'));
  assert.equal(JSON.parse(j.stdout).fields.key, 'K2');
  const t = lsm(['audit', 'show', '2', '--file', file, '--format', 'text'], { home });
  assert.match(t.stdout, /^seq: +2$/m);
  assert.match(t.stdout, /^actor\.agent_marker: +claude$/m);
  assert.match(t.stdout, /^ {2}claude \(pid 90, started 2026-05-14T10:00:00Z\)$/m);
  const missing = lsm(['audit', 'show', '9', '--file', file], { home });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /seq 9 not found/);
  assert.equal(lsm(['audit', 'show', 'x', '--file', file], { home }).code, 2);
});

test('show warns about a duplicated seq and keeps the first', () => {
  const { home, file } = setup(2);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  appendFileSync(file, `${lines[0]}\n`);
  const r = lsm(['audit', 'show', '1', '--file', file], { home });
  assert.equal(r.code, 0);
  assert.match(r.stderr, /:3: duplicate seq=1 ignored \(the first is on line 1\)/);
});

test('query: the filters of the original and the new ones, with --limit', () => {
  const { home, file } = setup(6);
  const seqs = (...args: string[]) => {
    const r = lsm(['audit', 'query', '--file', file, ...args], { home });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).seq);
  };
  assert.deepEqual(seqs('--env', 'prod'), [2, 4, 6]);
  assert.deepEqual(seqs('--app', 'web', '--env', 'dev', '--key', 'K3'), [3]);
  assert.deepEqual(seqs('-e', 'prod', '--seq-from', '3'), [4, 6]);
  assert.deepEqual(seqs('--seq-from', '2', '--seq-to', '3'), [2, 3]);
  assert.deepEqual(seqs('--since', '2026-05-14T12:00:02Z', '--until', '2026-05-14T12:00:04Z'), [3, 4]);
  assert.deepEqual(seqs('--agent', 'claude', '--ancestor', 'claude', '--parent-comm', 'bash', '--agent-marker', 'claude'), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(seqs('--agent', 'none'), []);
  assert.deepEqual(seqs('--tty', 'absent', '--outcome', 'ok', '--limit', '2'), [1, 2]);
  assert.deepEqual(seqs('--event', 'set'), []);
});

test('query: bad values exit 2 with the flag named', () => {
  const { home, file } = setup(1);
  for (const [args, re] of [
    [['--tty', 'maybe'], /--tty must be 'present' or 'absent'/],
    [['--since', 'tomorrow'], /--since: cannot read the time "tomorrow"/],
    [['--outcome', 'fine'], /--outcome must be one of ok, denied, error/],
    [['--limit', '-1'], /--limit must be a non-negative integer/],
    [['--format', 'yaml'], /unknown --format "yaml"; expected json, text, or auto/],
  ] as Array<[string[], RegExp]>) {
    const r = lsm(['audit', 'query', '--file', file, ...args], { home });
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, re);
  }
});

test('a malformed line is skipped with a warning that does not quote it', () => {
  const { home, file } = setup(3);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  writeLines(file, [lines[0], '{"oops": SECRET-LOOKING', lines[1], lines[2]]);
  for (const args of [['query'], ['tail'], ['show', '3']]) {
    const r = lsm(['audit', ...args, '--file', file], { home });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, `lsm: warning: ${file}:2: skipped malformed line\n`, args.join(' '));
    assert.ok(!r.stderr.includes('SECRET'));
  }
  assert.equal(lsm(['audit', 'query', '--file', file], { home }).stdout.trim().split('\n').length, 3);
});

test('a row of valid JSON but the wrong shape is skipped with a warning by every reader, not a crash that hides the rest', () => {
  const { home, file } = setup(3);
  for (const actor of ['{"ancestry":[null,1,{"comm":5}]}', '{"ancestry":"x"}', '{"parent_comm":7}']) {
    appendFileSync(file, `{"schema_version":2,"seq":9,"ts":"2026-11-29T03:00:00Z","event":"get","actor":${actor},"prev":"","hash":""}\n`);
  }
  for (const args of [['tail'], ['query'], ['show', '1'], ['stats'], ['suspicious']]) {
    const r = lsm(['audit', ...args, '--file', file, '--format', 'json'], { home });
    assert.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /skipped malformed line/, args[0]);
    assert.doesNotMatch(r.stderr, /internal error/, args[0]);
  }
});

test('a 10 MB line is read by query and tail', () => {
  const { home, file } = setup(1);
  writeLog(file, [{ fields: { key: 'BIG', blob: 'z'.repeat(10 * 1024 * 1024) } }, {}], clock('2026-05-15T00:00:00Z'));
  const q = lsm(['audit', 'query', '--key', 'BIG', '--file', file], { home });
  assert.equal(q.code, 0, q.stderr);
  assert.equal(JSON.parse(q.stdout).fields.blob.length, 10 * 1024 * 1024);
  const t = lsm(['audit', 'tail', '-n', '2', '--file', file], { home });
  assert.equal(t.stdout.trim().split('\n').length, 2);
});

test('verify: OK on a valid log (the original rows included), exit 0', () => {
  const { home, file } = setup(0);
  writeLines(file, [VECTOR_1, VECTOR_2]);
  writeLog(file, [{}, {}]);
  const r = lsm(['audit', 'verify', '--file', file, '--format', 'text'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'OK: chain valid (events=4)\n');
  const j = JSON.parse(lsm(['audit', 'verify', '--file', file, '--format', 'json'], { home }).stdout);
  assert.deepEqual([j.ok, j.events, j.last_seq, j.schemas], [true, 4, 4, { 1: 2, 2: 2 }]);
  assert.equal(homeEvents(home).at(-1).event, 'audit.verify');
});

test('verify: tampering exits 1, names seq and line, and records a local-only audit.verify.failed', () => {
  const { home, file } = setup(4);
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace('"K3"', '"K7"'));
  const r = lsm(['audit', 'verify', '--file', file, '--format', 'text'], { home });
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'FAIL: chain (details below and on stderr)\n', 'the verdict is the first line');
  assert.match(r.stderr, /^FAIL at seq=3 line=3: hash mismatch: row tampered$/m);
  const failed = homeEvents(home).at(-1);
  assert.deepEqual([failed.event, failed.outcome, failed.local_only], ['audit.verify.failed', 'error', true]);
  // Without --all the walk stops at the first problem: 3 rows read.
  assert.deepEqual(failed.fields, { events: 3, problems: 1, first_kind: 'hash_mismatch', first_seq: 3, first_line: 3, file: 'log.jsonl' });
  const j = JSON.parse(lsm(['audit', 'verify', '--all', '--file', file, '--format', 'json'], { home }).stdout);
  assert.deepEqual(j.problems, [{ kind: 'hash_mismatch', seq: 3, line: 3, message: 'hash mismatch: row tampered' }]);
});

test('verify reports a repaired torn line without failing', () => {
  const { home, file } = setup(2);
  appendFileSync(file, '{"schema_version":2,"seq":3,"ts"');
  writeLog(file, [{}]);
  const r = lsm(['audit', 'verify', '--file', file, '--format', 'text'], { home });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^note: line 3: torn line \(32 bytes\) left by an interrupted write, repaired by seq 3 \(audit\.repair\)$/m);
  assert.match(r.stdout, /^OK: chain valid \(events=4\)$/m);
});

test('verify: a missing or empty log is nothing to verify', () => {
  const { home, file } = setup(0);
  assert.equal(lsm(['audit', 'verify', '--file', `${file}.none`, '--format', 'text'], { home }).stdout, `audit log not found at ${file}.none; nothing to verify\n`);
  writeFileSync(file, '', { mode: 0o600 });
  assert.equal(lsm(['audit', 'verify', '--file', file, '--format', 'text'], { home }).stdout, 'audit log is empty; nothing to verify\n');
  chmodSync(file, 0o644);
  assert.match(lsm(['audit', 'verify', '--file', file, '--format', 'text'], { home }).stdout, /^note: file mode 0644 lets other users read the log/);
});

test('every audit command records its own event in the home log', () => {
  const { home, file } = setup(2);
  lsm(['audit', 'tail', '--file', file], { home });
  lsm(['audit', 'show', '1', '--file', file], { home });
  lsm(['audit', 'query', '--key', 'K1', '--file', file], { home });
  lsm(['audit', 'verify', '--file', file], { home });
  const evs = homeEvents(home);
  assert.deepEqual(evs.map((e) => e.event), ['audit.tail', 'audit.show', 'audit.query', 'audit.verify']);
  assert.deepEqual(evs[2].fields, { file: 'log.jsonl', filters: ['key'], matched: 1 });
  assert.equal(lsm(['audit', 'verify'], { home }).code, 0);
});

test('reading a log that does not exist is an error naming it', () => {
  const { home, file } = setup(0);
  const r = lsm(['audit', 'tail', '--file', `${file}.none`], { home });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /audit log not found at .*\.none/);
});

test('a FIFO, a device or a link in the log\'s place is refused by every reader at once, exit 1', () => {
  const { home, file } = setup(3);
  const log = join(home, 'audit.jsonl');
  const plants: Array<[string, () => void]> = [
    ['a FIFO', () => spawnSync('mkfifo', [log])],
    ['a link to /dev/zero', () => symlinkSync('/dev/zero', log)],
    ['a link to a valid log', () => symlinkSync(file, log)],
  ];
  const readers = [['verify'], ['tail'], ['show', '1'], ['query'], ['suspicious'], ['stats'], ['seal', 'status']];
  for (const [what, plant] of plants) {
    rmSync(log, { force: true });
    plant();
    for (const reader of readers) {
      const r = lsm(['audit', ...reader], { home, timeout: 10_000 });
      const label = `audit ${reader.join(' ')} with ${what}`;
      assert.equal(r.signal, null, `${label}: still running after 10 s`);
      assert.equal(r.code, 1, `${label}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, what === 'a FIFO' ? /not a regular file/ : /it is a symbolic link \(to "[^"]+"\)/, label);
      assert.doesNotMatch(r.stderr, /\n\s+at /, label);
    }
  }
  // Appending never goes through the link either: the file it points to is unchanged.
  const before = readFileSync(file, 'utf8');
  lsm(['audit', 'verify'], { home });
  assert.equal(readFileSync(file, 'utf8'), before);
});

test('tail -f prints what other processes append and reports a truncation', async () => {
  const { home, file } = setup(2);
  const [node, args] = lsmCommand();
  const child = spawn(node, [...args, 'audit', 'tail', '-f', '-n', '1', '--file', file], { env: cleanEnv({ LSM_DIR: home }) });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const until = async (cond: () => boolean, what: string) => {
    for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(cond(), `waiting for ${what}: out=${out} err=${err}`);
  };
  try {
    await until(() => out.includes('"K2"'), 'the initial tail');
    appendEvent(file, { event: 'get', fields: { key: 'FOLLOWED_1' } }, { actor: ACTOR });
    spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/scripts/audit-append.ts', file, '2', 'other']);
    await until(() => out.includes('K_other_1'), 'appends by another process');
    assert.ok(out.includes('FOLLOWED_1'));
    truncateSync(file, 0);
    await until(() => /truncated/.test(err), 'the truncation warning');
    appendEvent(file, { event: 'get', fields: { key: 'AFTER_TRUNCATE' } }, { actor: ACTOR });
    await until(() => out.includes('AFTER_TRUNCATE'), 'rows after the truncation');
  } finally {
    child.kill('SIGTERM');
  }
  const code = await new Promise((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 0);
  assert.match(err, new RegExp(`lsm: warning: ${file} was truncated; following it from its start`));
});

test('audit --help says the log fails closed and how to change that', () => {
  const r = lsm(['audit', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /fails closed/);
  assert.match(r.stdout, /on_failure: open/);
  for (const sub of ['tail', 'show', 'query', 'verify']) assert.match(lsm(['audit', sub, '--help']).stdout, /Examples:/);
});
