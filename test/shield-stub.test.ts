// lsm shield's exec stub (src/shield/stub.ts): the committed images are what the reviewed
// assembly sources make, and each runs as they say: restricted first, or nothing at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.ts';
import { stubImage } from '../src/shield/stub.ts';
import { loadPlatform } from '../src/platform.ts';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
// CI installs both assemblers and qemu (.ci/run): there nothing here may go untested.
const need = (cmd: string) => (process.env.CI === 'true' || has(cmd) ? undefined : `${cmd} is not installed`);
const native = process.arch === 'x64' || process.arch === 'arm64' ? process.arch : undefined;

function stubFile(arch: string): string {
  const f = join(tempDir('lsm-stub-'), `stub-${arch}`);
  writeFileSync(f, stubImage(arch));
  chmodSync(f, 0o755);
  return f;
}

test('the committed stub images are what src/shield/stub/*.s assemble to', { skip: need('as') ?? need('aarch64-linux-gnu-as') }, () => {
  const r = spawnSync(process.execPath, ['scripts/stub.mjs', '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

function refusesUnrestricted(run: (args: string[]) => ReturnType<typeof spawnSync>): void {
  // No ruleset on fd 3: landlock_restrict_self fails, and the command must not run.
  const mark = join(tempDir('lsm-stub-mark-'), 'ran');
  const r = run(['/bin/sh', 'sh', '-c', `touch ${mark}`]);
  assert.equal(r.status, 125, String(r.stderr));
  assert.match(String(r.stderr), /^lsm shield: the sandbox could not be entered or the command not started; it did not run$/m);
  assert.ok(!existsSync(mark), 'the command ran without its sandbox');
  // The control: the same command runs when started without the stub.
  assert.equal(spawnSync('/bin/sh', ['-c', `touch ${mark}`]).status, 0);
  assert.ok(existsSync(mark));
}

test('this machine\'s stub refuses to run the command when it cannot restrict itself', { skip: native ? undefined : 'not x64 or arm64' }, () => {
  const f = stubFile(native!);
  refusesUnrestricted((args) => spawnSync(f, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
});

test('the arm64 stub refuses the same way (under qemu)', { skip: native === 'arm64' ? 'run natively above' : need('qemu-aarch64') }, () => {
  const f = stubFile('arm64');
  refusesUnrestricted((args) => spawnSync('qemu-aarch64', [f, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
});

test('restricted, the stub runs the command with its argv[0], and says 127 or 126 when it cannot', { skip: native && process.platform === 'linux' ? undefined : 'Linux x64 or arm64 only' }, async (t) => {
  const platform = await loadPlatform();
  if (platform.landlockAbi() === 0) return t.skip('no Landlock on this kernel');
  const f = stubFile(native!);
  const run = (args: string[]) => {
    // A ruleset that allows nothing it handles: reading files is then denied, exec of /bin/sh too,
    // so this one handles only the right to make directories.
    const ruleset = platform.landlockRuleset(1n << 7n, 0n);
    assert.ok(ruleset >= 0);
    try {
      return spawnSync(f, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', ruleset] });
    } finally {
      platform.closeFd(ruleset);
    }
  };
  const ok = run(['/bin/sh', 'named', '-c', 'echo $0; grep NoNewPrivs /proc/self/status; mkdir /tmp/lsm-stub-denied-$$ 2>&1 || echo denied']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^named\nNoNewPrivs:\s+1\n.*\n?denied\n$/s);
  const missing = run(['/no/such/file', 'x']);
  assert.equal(missing.status, 127);
  assert.match(missing.stderr, /did not run/);
  const notExec = join(tempDir('lsm-stub-'), 'plain');
  writeFileSync(notExec, 'not a program\n');
  const denied = run([notExec, 'x']);
  assert.equal(denied.status, 126);
});
