import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, initHome, lsm, lsmCommand, tempDir, assertNoLeak } from './helpers.ts';

const CANARY = 'canary-6f13-edit-VALUE-a9c4';
const hasScript = spawnSync('script', ['--version']).status === 0;
// The store starts as these two lines (import into an empty store takes the text as it is).
const STORE = `DB_URL=postgres://db/x\nAPI_KEY=${CANARY}\n`;

const noLeak = (home: string, ...outputs: string[]) => assertNoLeak(CANARY, home, ...outputs);

function editEvents(home: string): { outcome: string; fields?: Record<string, unknown> }[] {
  return readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === 'edit');
}

/** No plaintext left behind: no lsm-edit-* directory in the home. */
function noLeftovers(home: string) {
  assert.deepEqual(readdirSync(home).filter((n) => n.startsWith('lsm-edit-')), []);
}

function setup() {
  const home = initHome();
  assert.equal(lsm(['import', 'app', 'dev', '-'], { home, input: STORE }).code, 0);
  const bin = tempDir('lsm bin ');
  const editor = (name: string, body: string) => {
    const path = join(bin, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return `'${path}'`;
  };
  const store = () => readFileSync(join(home, 'app.dev.age'));
  const text = () => lsm(['dump', 'app', 'dev', '--stdout'], { home }).stdout;
  return { home, bin, editor, store, text };
}

test('an edit is saved as written (comments and order too) from a private 0600 file that is then removed', () => {
  const { home, bin, editor, text } = setup();
  const ed = editor('ed', `
    stat -c '%a' "$(dirname "$1")" "$1" > '${bin}/modes'
    dirname "$1" > '${bin}/where'
    sed -i 's|^DB_URL=.*|DB_URL=postgres://db/new|' "$1"
    printf '# added by hand\\nNEW_KEY="two words"\\n' >> "$1"`);
  const r = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: ed, VISUAL: undefined } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'Saved app/dev: 1 added, 1 changed, 0 removed, 1 unchanged.\n');
  assert.equal(readFileSync(join(bin, 'modes'), 'utf8'), '700\n600\n');
  assert.ok(readFileSync(join(bin, 'where'), 'utf8').startsWith(join(home, 'lsm-edit-')));
  assert.equal(text(), `DB_URL=postgres://db/new\nAPI_KEY=${CANARY}\n# added by hand\nNEW_KEY="two words"\n`);
  assert.equal(lsm(['get', 'app', 'dev', 'NEW_KEY'], { home }).stdout, 'two words');
  noLeftovers(home);
  const ev = editEvents(home);
  assert.deepEqual(ev.map((e) => e.fields!.stage), ['open', 'save']);
  const { store_sha256: written, ...saved } = ev[1].fields as Record<string, unknown>;
  assert.match(String(written), /^[0-9a-f]{64}$/); // the ciphertext the write left (#18.4)
  assert.deepEqual(saved, { added: 1, changed: 1, keys: ['NEW_KEY', 'DB_URL'], removed: 0, stage: 'save', unchanged: 1 });
  noLeak(home, r.stdout, r.stderr);
});

test('an unchanged file writes nothing', () => {
  const { home, editor, store } = setup();
  const before = store();
  for (const ed of ['true', editor('same', 'cp "$1" "$1.tmp" && mv "$1.tmp" "$1"')]) {
    const r = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: ed } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'No changes.\n');
    assert.ok(store().equals(before), 'store file untouched');
  }
  noLeftovers(home);
});

test('text that no longer parses is reported by line, and the store is left as it was', () => {
  const { home, editor, store } = setup();
  const before = store();
  const r = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: editor('bad', `printf 'A=1\\nB=2\\nthis is not valid\\n' > "$1"`) } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^lsm: edited text:3: expected KEY=value; the store was left as it was\nhint: each line is KEY=value/);
  assert.ok(store().equals(before));
  noLeftovers(home);
  assert.deepEqual(editEvents(home).at(-1)!.fields, { reason: 'parse' });
  noLeak(home, r.stderr);
});

test('an emptied file cancels the edit instead of removing every key; a comment line left removes them', () => {
  const { home, editor, store } = setup();
  const before = store();
  for (const body of [': > "$1"', "printf '\\n  \\n' > \"$1\""]) {
    const r = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: editor('empty', body) } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^lsm: the edited text is empty; nothing was saved\nhint: /);
    assert.ok(store().equals(before));
  }
  const kept = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: editor('comment', `printf '# all gone\\n' > "$1"`) } });
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stdout, /2 removed/);
  assert.equal(lsm(['list', 'app', 'dev'], { home }).stdout, '');
  noLeftovers(home);
});

test('a failing or crashing editor saves nothing and leaves nothing behind', () => {
  const { home, editor, store } = setup();
  const before = store();
  const cases: [string, RegExp][] = [
    [editor('fail', 'echo "NEW=1" >> "$1"; exit 3'), /^lsm: the editor exited with status 3; nothing was saved\n/],
    [editor('crash', 'echo "NEW=1" >> "$1"; kill -KILL $$'), /^lsm: the editor was killed by SIGKILL; nothing was saved\n/],
    ['no-such-editor-xyz --wait', /^lsm: editor "no-such-editor-xyz" not found\n/],
  ];
  for (const [ed, message] of cases) {
    const r = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: ed } });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, message);
    assert.ok(store().equals(before));
    noLeftovers(home);
  }
  assert.equal(lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: 'no-such-editor-xyz' } }).code, 127);
});

test('SIGTERM to lsm while the editor runs: the editor is stopped, the file removed, lsm dies of SIGTERM', async () => {
  const { home, bin, editor, store } = setup();
  const before = store();
  const ed = editor('slow', `echo "NEW=1" >> "$1"; echo "$1" > '${bin}/started'; exec sleep 30`);
  const [cmd, pre] = lsmCommand();
  const child = spawn(cmd, [...pre, 'edit', 'app', 'dev'], { env: cleanEnv({ LSM_DIR: home, EDITOR: ed }), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  for (let i = 0; i < 200 && !existsSync(join(bin, 'started')); i++) await new Promise((r) => setTimeout(r, 25));
  const file = readFileSync(join(bin, 'started'), 'utf8').trim();
  assert.ok(existsSync(file), 'the plaintext exists while editing');
  child.kill('SIGTERM');
  const [code, signal] = await exited;
  assert.equal(code, null);
  assert.equal(signal, 'SIGTERM');
  assert.match(err, /interrupted by SIGTERM; nothing was saved/);
  assert.ok(!existsSync(file));
  noLeftovers(home);
  assert.ok(store().equals(before));
  assert.equal(editEvents(home).at(-1)!.fields!.reason, 'signal');
});

test('the store changed during the edit: other keys are merged, the same key is refused', () => {
  const { home, editor } = setup();
  const [node, pre] = lsmCommand();
  const lsmSh = [node, ...pre].map((a) => `'${a}'`).join(' ');
  const ed = editor('conc', `${lsmSh} set app dev "$OTHER_KEY" from-elsewhere >/dev/null || exit 9\nsed -i 's|^DB_URL=.*|DB_URL=mine|' "$1"`);
  const merged = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: ed, OTHER_KEY: 'SET_MEANWHILE' } });
  assert.equal(merged.code, 0, merged.stderr);
  assert.match(merged.stdout, /The store changed while you were editing/);
  assert.equal(lsm(['get', 'app', 'dev', 'DB_URL'], { home }).stdout, 'mine');
  assert.equal(lsm(['get', 'app', 'dev', 'SET_MEANWHILE'], { home }).stdout, 'from-elsewhere', 'the concurrent set is not lost');
  lsm(['set', 'app', 'dev', 'DB_URL', 'start'], { home });
  const conflict = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: ed, OTHER_KEY: 'DB_URL' } });
  assert.equal(conflict.code, 1);
  assert.match(conflict.stderr, /^lsm: app\/dev changed while you were editing, and DB_URL changed on both sides; your edit was not saved\n/);
  assert.equal(lsm(['get', 'app', 'dev', 'DB_URL'], { home }).stdout, 'from-elsewhere');
  noLeftovers(home);
  noLeak(home, merged.stdout, conflict.stderr);
});

test('VISUAL wins over EDITOR, and the command is split into words like a shell would', () => {
  const { home, bin, editor } = setup();
  const ed = editor('args', `printf '%s\\n' "$@" > '${bin}/args.out'`);
  const r = lsm(['edit', 'app', 'dev'], { home, env: { VISUAL: `${ed} --wait "two words"`, EDITOR: 'false' } });
  assert.equal(r.code, 0, r.stderr);
  const args = readFileSync(join(bin, 'args.out'), 'utf8').split('\n');
  assert.deepEqual(args.slice(0, 2), ['--wait', 'two words']);
  assert.match(args[2], /lsm-edit-\d+-\w+\/app\.dev\.env$/);
});

test('the temp directory of an edit killed with SIGKILL is swept by the next command, and the sweep recorded once', () => {
  const { home } = setup();
  const stale = (pid: number, name: string) => {
    const dir = join(home, `lsm-edit-${pid}-${name}`);
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'app.dev.env'), `API_KEY=${CANARY}\n`, { mode: 0o600 });
    writeFileSync(join(dir, '.app.dev.env.swp'), CANARY, { mode: 0o600 });
  };
  const dead = spawnSync('true').pid!;
  stale(dead, 'abc123');
  // A running edit's directory (this test process stands in for its lsm) is left alone.
  stale(process.pid, 'live01');
  // A plain get stays minimal and does not sweep; the next other command does.
  assert.equal(lsm(['get', 'app', 'dev', 'API_KEY'], { home }).code, 0);
  assert.ok(existsSync(join(home, `lsm-edit-${dead}-abc123`)));
  assert.equal(lsm(['list', 'app', 'dev'], { home }).code, 0);
  assert.deepEqual(readdirSync(home).filter((n) => n.startsWith('lsm-edit-')), [`lsm-edit-${process.pid}-live01`]);
  assert.equal(lsm(['apps'], { home }).code, 0);
  const rows = readFileSync(join(home, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const swept = rows.filter((r) => r.event === 'edit.swept');
  assert.equal(swept.length, 1, 'one event for one directory');
  assert.deepEqual([swept[0].app, swept[0].env, swept[0].fields.edit_pid, swept[0].local_only], ['app', 'dev', dead, true]);
  assert.match(swept[0].fields.since, /^\d{4}-\d\d-\d\dT/);
  assertNoLeak(CANARY, home);
  rmSync(join(home, `lsm-edit-${process.pid}-live01`), { recursive: true });
});

test('on a terminal, text that does not parse can be edited again', { skip: !hasScript && 'util-linux script is not installed' }, () => {
  const { home, bin, editor } = setup();
  const ed = editor('twice', `
    if [ -e '${bin}/once' ]; then sed -i '/^broken line$/d' "$1"; echo 'FIXED=yes' >> "$1"; else touch '${bin}/once'; echo 'broken line' >> "$1"; fi`);
  const [node, pre] = lsmCommand();
  const cmd = [node, ...pre, 'edit', 'app', 'dev'].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { input: 'y\r', encoding: 'utf8', timeout: 20000, env: cleanEnv({ LSM_DIR: home, EDITOR: ed }) });
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /edited text:3: expected KEY=value/);
  assert.match(r.stdout, /Edit again\?/);
  assert.equal(lsm(['get', 'app', 'dev', 'FIXED'], { home }).stdout, 'yes');
  noLeftovers(home);
});

test('when the audit event cannot be recorded, the editor never sees the text', () => {
  const { home, bin, editor } = setup();
  rmSync(join(home, 'audit.jsonl'));
  mkdirSync(join(home, 'audit.jsonl'));
  const r = lsm(['edit', 'app', 'dev'], { home, env: { EDITOR: editor('spy', `touch '${bin}/opened'`) } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^lsm: cannot record the audit event /);
  assert.ok(!existsSync(join(bin, 'opened')));
  noLeftovers(home);
});
