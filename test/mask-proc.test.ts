import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv, lsmCommand } from './helpers.ts';
import { runAs, skip, unprivilegedHome } from './unprivileged.ts';

/**
 * #18.8: a masked exec's child could write the raw value to /proc/$PPID/fd/1, lsm's own
 * stdout, around the mask. lsm makes itself non-dumpable before the child starts, which
 * closes its /proc descriptors to the user's processes. Root opens them regardless, so
 * this runs as an ordinary user.
 */
const SECRET = 'mp-canary-4b9d1f7e2a6c8e0d';
const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

test('a masked exec child cannot write around the mask through /proc/$PPID/fd/1', { skip }, () => {
  const dir = unprivilegedHome();
  dirs.push(dir);
  const env = cleanEnv({ LSM_DIR: join(dir, 'h'), HOME: dir });
  const [cmd, pre] = lsmCommand();
  const as = (args: string[]) => runAs(cmd, [...pre, ...args], { env, cwd: dir, input: '' });
  assert.equal(as(['init']).status, 0);
  assert.equal(as(['set', 'app', 'dev', 'TOKEN', SECRET]).status, 0);
  const child = 'printf "%s\\n" "$TOKEN"; printf "%s\\n" "$TOKEN" > /proc/$PPID/fd/1; echo done';
  // lsm's stdout must be a pipe of the user's own (a root-owned pipe could not be reopened
  // through /proc by the user whatever lsm does): the user's shell makes it.
  const r = runAs('sh', ['-c', '"$@" | cat', 'sh', cmd, ...pre, 'exec', 'app', 'dev', '--mask', '--', 'sh', '-c', child], { env, cwd: dir, input: '' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\[masked\]/);
  assert.match(r.stdout, /done/);
  assert.ok(!r.stdout.includes(SECRET), 'the raw value reached stdout through /proc/$PPID/fd/1');
  assert.ok(!r.stderr.includes(SECRET));
  const ev = as(['audit', 'query', '--event', 'exec', '--format', 'json']).stdout.trim().split('\n').map((l) => JSON.parse(l)).at(-1);
  assert.equal(ev.fields.mask_guards, 'accidents');
});
