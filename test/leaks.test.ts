// A canary value and a canary key name pushed through every command, its happy path
// and its failures, in a home that ships to a collector: the value must never reach
// the audit log, an error message, a file of the home, gh's argv or the network, and
// the key name must never reach the network either (docs/observability.md "Never
// sent"). Encodings of the value are searched too (base64, hex, URL, JSON escapes).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { initHome, tempDir } from './helpers.js';
import { Receiver } from './fixtures/otlp/receiver.js';
import { enableShipping, shipperGone } from './fixtures/otlp/ship-env.js';
import { rows, run, type Run, type RunOpts } from './fixtures/reliability.js';

// Value and key are distinctive, and each has parts a careless encoder would keep whole.
const VALUE = 'Cnry-v4lue/9f8e+7d6c=5b4a&x?y#z "q" \\ end';
const KEY = 'CANARY_KEY_NAME_81d2c3';
const MULTI = `-----BEGIN KEY-----\n${VALUE}\n-----END KEY-----`;

const receivers: Receiver[] = [];
after(async () => {
  for (const r of receivers) await r.stop().catch(() => {});
});

/** The value as it could leak in another form. */
function forms(v: string): string[] {
  return [
    v,
    Buffer.from(v).toString('base64'),
    Buffer.from(v).toString('base64url'),
    Buffer.from(v).toString('hex'),
    encodeURIComponent(v),
    JSON.stringify(v).slice(1, -1),
    'Cnry-v4lue', // a fragment: a value cut at a delimiter
  ];
}

function assertAbsent(haystack: string | Buffer, needles: string[], where: string): void {
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : haystack;
  for (const n of needles) assert.equal(text.includes(Buffer.from(n).toString('latin1')), false, `${JSON.stringify(n)} found in ${where}`);
}

test('a canary value and key name pushed through every command leak nowhere', { timeout: 240_000 }, async (t) => {
  const home = initHome();
  const project = tempDir('lsm-leak-proj-');
  const scratch = tempDir('lsm-leak-');
  const json = await Receiver.start();
  receivers.push(json);
  enableShipping(home, { enabled: true, endpoint: json.url, batch_size: 5 });

  const stderrs: Array<[string, string]> = [];
  const stdoutsWithoutValue: Array<[string, string]> = [];
  const fake = resolve('test/fixtures/gh');
  chmodSync(join(fake, 'gh'), 0o755);
  const ghEnv = {
    PATH: `${fake}:${dirname(process.execPath)}:${process.env.PATH}`,
    GH_FAKE_LOG: join(scratch, 'gh-calls.jsonl'),
    GH_FAKE_STATE: join(scratch, 'gh-state.json'),
    GH_FAKE_NODE: process.execPath,
  };
  /** Runs a command; `reveals` says whether its stdout may hold the value. */
  const step = async (args: string[], opts: RunOpts & { expect?: number; reveals?: boolean } = {}): Promise<Run> => {
    const r = await run(args, { home, cwd: project, ...opts, env: { ...ghEnv, ...opts.env } });
    const what = `lsm ${args.join(' ').slice(0, 60)}`;
    if (opts.expect !== undefined) assert.equal(r.code, opts.expect, `${what}: ${r.stderr}`);
    stderrs.push([what, r.stderr]);
    if (!opts.reveals) stdoutsWithoutValue.push([what, r.stdout]);
    return r;
  };

  const git = (...args: string[]) => assert.equal(spawnSync('git', args, { cwd: project }).status, 0, `git ${args.join(' ')}`);
  git('init', '-q');
  git('remote', 'add', 'origin', 'git@github.com:acme/widget.git');

  // ---- set, get, list, delete, in every form
  await step(['link', 'widget'], { expect: 0 });
  await step(['set', KEY, VALUE], { expect: 0 });
  await step(['set', 'widget', 'dev', `${KEY}_STDIN`, '-'], { input: `${VALUE}\n`, expect: 0 });
  await step(['set', 'widget', 'prod', KEY, '-'], { input: MULTI, expect: 0 });
  assert.equal((await step(['get', KEY], { expect: 0, reveals: true })).stdout, VALUE);
  assert.equal((await step(['get', 'widget', 'prod', KEY], { expect: 0, reveals: true })).stdout, MULTI);
  await step(['set', KEY, VALUE], { expect: 0 }); // unchanged
  await step(['list'], { expect: 0 });
  await step(['list', 'widget', 'prod'], { expect: 0 });
  await step(['apps'], { expect: 0 });
  await step(['envs'], { expect: 0 });
  await step(['get', `${KEY}_MISSING`], { expect: 1 });
  await step(['delete', `${KEY}_STDIN`], { expect: 0 });
  await step(['delete', `${KEY}_STDIN`], { expect: 1 });
  // Failures whose input holds the value: none may quote it.
  await step(['set', 'widget', 'dev', `${KEY}_NUL`, '-'], { input: `${VALUE}\0`, expect: 2 });
  await step(['set', 'widget', 'dev', `1${KEY}`, VALUE], { expect: 2 });
  await step(['set', 'widget', 'dev', `${KEY}_BIN`, '-'], { input: Buffer.concat([Buffer.from(VALUE), Buffer.from([0xff])]), expect: 2 });

  // ---- import, dump, edit, clean
  const envFile = join(project, '.env');
  writeFileSync(envFile, `# imported\n${KEY}_IMPORTED="${VALUE.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"\n${KEY}_OTHER=plain\n`);
  await step(['import', '--dry-run', './.env'], { expect: 0 });
  await step(['import', './.env'], { expect: 0 });
  await step(['import', 'widget', 'dev', '-'], { input: `${KEY}_BAD="${VALUE}\n`, expect: 1 });
  await step(['import', 'widget', 'dev', '-'], { input: `${KEY} ${VALUE}\n`, expect: 1 });
  await step(['import', 'widget', 'dev', '-'], { input: `${KEY}_X="a" ${VALUE}\n`, expect: 1 });
  await step(['clean', '--force'], { expect: 0 });
  assert.equal(existsSync(envFile), false, 'clean removed the imported file');
  const dumped = join(scratch, 'dumped.env');
  await step(['dump', '-o', dumped], { expect: 0 });
  assert.ok(readFileSync(dumped, 'utf8').includes(`${KEY}=`));
  await step(['dump', '-o', dumped], { expect: 1 }); // exists, no --force off a terminal
  await step(['dump', '--stdout'], { expect: 0, reveals: true });
  const editor = join(scratch, 'editor');
  writeFileSync(editor, `#!/bin/sh\nprintf '%s\\n' "$EDIT_LINE" >> "$1"\n`);
  chmodSync(editor, 0o755);
  await step(['edit'], { env: { EDITOR: editor, EDIT_LINE: `${KEY}_EDITED=ok` }, expect: 0 });
  await step(['edit'], { env: { EDITOR: editor, EDIT_LINE: `not a line ${VALUE}` }, expect: 1 });
  await step(['edit'], { env: { EDITOR: editor, EDIT_LINE: `${KEY}_Q="${VALUE}` }, expect: 1 });

  // ---- exec: unmasked, masked (the default off a terminal), failing
  const shown = await step(['exec', '--no-mask', '--', 'sh', '-c', `printf %s "$${KEY}"`], { expect: 0, reveals: true });
  assert.equal(shown.stdout, VALUE);
  const masked = await step(['exec', '--', 'sh', '-c', `printf '%s|%s' "$${KEY}" "$${KEY}" >&2; printf %s "$${KEY}"`], { expect: 0 });
  assert.equal(masked.stdout.includes(VALUE), false, 'masked stdout');
  await step(['exec', '--', 'sh', '-c', 'exit 3'], { expect: 3 });
  await step(['exec', '--only', `${KEY}_NOPE`, '--', 'true'], { expect: 1 });
  await step(['exec', '--', '/nonexistent/cmd'], { expect: 127 });

  // ---- policy refusal: an agent reading prod without a reason
  await step(['get', 'widget', 'prod', KEY], { env: { LSM_AGENT: 'leaktest' }, expect: 4 });

  // ---- canaries
  await step(['canary', 'add', 'widget', 'dev', `${KEY}_DECOY`, '--like', 'stripe'], { expect: 0 });
  const decoy = (await step(['get', `${KEY}_DECOY`], { expect: 0, reveals: true })).stdout;
  assert.ok(decoy.length > 10);
  await step(['canary', 'list'], { expect: 0 });
  await step(['canary', 'remove', 'widget', 'dev', `${KEY}_DECOY`], { expect: 0 });

  // ---- gh push and status through the stand-in
  await step(['gh', 'push', '--force'], { expect: 0 });
  await step(['gh', 'status'], { expect: 0 });
  await step(['gh', 'push', '--force'], { env: { GH_FAKE_FAIL_ON: KEY }, expect: 1 });

  // ---- the audit commands
  const log = rows(home);
  for (const args of [
    ['audit', 'tail', '-n', '1000'], ['audit', 'tail', '--format', 'text'], ['audit', 'show', String(log[3].seq)],
    ['audit', 'query', '--key', KEY], ['audit', 'query', '--event', 'get', '--format', 'text'], ['audit', 'verify'],
    ['audit', 'suspicious', '--format', 'json'], ['audit', 'stats'], ['audit', 'ship', '--status'],
  ]) await step(args, { expect: 0 });

  // ---- ship everything, both encodings, and a heartbeat
  assert.ok(await shipperGone(home, 30_000));
  await step(['audit', 'ship'], { expect: 0 });
  await step(['audit', 'ship', '--heartbeat'], { expect: 0 });
  const proto = await Receiver.start();
  receivers.push(proto);
  const config = join(home, 'config.yaml');
  writeFileSync(config, readFileSync(config, 'utf8').replace(json.url, proto.url).replace(/^otlp:\n/m, 'otlp:\n  protocol: http/protobuf\n'));
  writeFileSync(join(home, 'audit.cursor'), '{}'); // send the whole log again, as protobuf
  await step(['audit', 'ship'], { expect: 0 });
  assert.equal(proto.requests[0]?.contentType, 'application/x-protobuf');

  // ---- what must hold
  const secretForms = [...forms(VALUE), ...forms(decoy), 'BEGIN KEY'];
  assertAbsent(readFileSync(join(home, 'audit.jsonl')), secretForms, 'audit.jsonl');
  for (const [what, err] of stderrs) assertAbsent(err, secretForms, `the stderr of ${what}`);
  for (const [what, out] of stdoutsWithoutValue) assertAbsent(out, [VALUE, 'Cnry-v4lue'], `the stdout of ${what}`);

  // No file of the home holds a value in the clear: stores are encrypted, the rest are names.
  for (const name of readdirSync(home)) {
    const path = join(home, name);
    if (statSync(path).isFile()) assertAbsent(readFileSync(path), secretForms, `home file ${name}`);
    assert.equal(name.startsWith('lsm-edit-'), false, 'edit left its plaintext behind');
  }

  // gh got each value on stdin only, never in argv.
  const calls = readFileSync(ghEnv.GH_FAKE_LOG, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(calls.some((c) => c.argv[0] === 'secret' && c.argv[1] === 'set' && c.stdin === VALUE), 'the value went to gh on stdin');
  for (const c of calls) assertAbsent(JSON.stringify(c.argv), [VALUE, 'Cnry-v4lue'], 'gh argv');

  // The network saw neither values nor key names, in either encoding.
  for (const [name, r] of [['json', json], ['protobuf', proto]] as const) {
    assert.ok(r.requests.length > 0, `${name}: something was shipped`);
    assert.deepEqual(r.validationErrors(), []);
    const bytes = r.allBytes();
    assertAbsent(bytes, [...secretForms, KEY, Buffer.from(KEY).toString('base64'), 'widget', 'DECOY'], `what the ${name} collector received`);
  }
  const events = new Set(rows(home).map((r) => r.event));
  for (const e of ['set', 'get', 'list', 'delete', 'import', 'dump', 'edit', 'clean', 'exec', 'canary.add', 'canary.read', 'gh_push', 'gh_status']) {
    assert.ok(events.has(e), `the run covered ${e}`);
  }
  t.diagnostic(`${stderrs.length} commands; ${json.requests.length + proto.requests.length} requests, ${json.allBytes().length + proto.allBytes().length} bytes shipped`);
});
