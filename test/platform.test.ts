import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { ptraceScope } from '../src/platform.js';
import { runAs, skip, spawnAs, unprivilegedHome, unprivilegedIds } from './unprivileged.js';
// @ts-expect-error: a build script without types
import { findBun } from '../scripts/build-native.mjs';

const SUBJECT = join(import.meta.dirname, 'fixtures', 'platform-subject.ts');
const READER = join(import.meta.dirname, 'fixtures', 'proc-reader.mjs');

// The same subject under each runtime the keeper runs on: Node (koffi) and Bun (bun:ffi).
const runtimes: Array<{ name: string; cmd: string; args: string[] }> = [
  { name: 'node (koffi)', cmd: process.execPath, args: ['--import', 'tsx', SUBJECT] },
];
try {
  const bun = findBun() as string;
  runtimes.push({ name: 'bun (bun:ffi)', cmd: bun, args: [SUBJECT] });
  // And compiled as the native executable is (koffi external, as build-native.mjs does):
  // a compiled executable is where koffi could not load and bun:ffi must.
  if (!skip) {
    const dir = mkdtempSync(join(tmpdir(), 'lsm-native-subject-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    chmodSync(dir, 0o755);
    const exe = join(dir, 'subject');
    const r = spawnSync(bun, ['build', SUBJECT, '--compile', '--external', 'koffi', '--outfile', exe], { encoding: 'utf8' });
    if (r.status === 0) runtimes.push({ name: 'compiled bun executable (bun:ffi)', cmd: exe, args: [] });
    else process.stderr.write(`platform.test: could not compile the subject with Bun: ${r.stderr}\n`);
  }
} catch { /* no Bun here: the native build is not tested either */ }

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let err = '';
    child.stderr?.on('data', (d) => (err += String(d)));
    child.stdout!.on('data', (d) => {
      buf += String(d);
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.on('exit', (code) => reject(new Error(`subject exited ${code} before its first line: ${err}`)));
  });
}

interface Reading { uid: number; environ: string; environCanary: boolean; maps: string; mem: string; memCanary: boolean }

function readAsSibling(pid: number, canary: string): Reading {
  const r = runAs(process.execPath, [READER, String(pid), canary]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Reading;
}

describe('platform: harden() against a same-user process', { skip }, () => {
  const children: ChildProcess[] = [];
  after(() => children.forEach((c) => c.kill()));

  for (const rt of runtimes) {
    async function subject(mode: 'harden' | 'plain', canary: string) {
      const child = spawnAs(rt.cmd, [...rt.args, mode], { env: { ...process.env, LSM_TEST_CANARY: canary }, stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(child);
      const info = JSON.parse(await firstLine(child)) as { pid: number; uid: number; ffi: string; dumpable: boolean; dumpableNow: boolean; coreLimit: number; mlock: boolean };
      return { child, info };
    }

    test(`${rt.name}: a hardened process's environ and memory are closed to a sibling; an unhardened control's are open`, async (t) => {
      const canary = randomBytes(12).toString('hex');
      const { uid } = unprivilegedIds();

      const control = await subject('plain', canary);
      assert.equal(control.info.uid, uid);
      assert.equal(control.info.dumpableNow, true);
      const open = readAsSibling(control.info.pid, canary);
      assert.equal(open.uid, uid);
      // The control proves the reader can see a same-user process at all.
      assert.equal(open.environ, 'ok');
      assert.equal(open.environCanary, true);
      const scope = ptraceScope();
      t.diagnostic(`ptrace_scope: ${scope ?? 'no Yama'}; control mem: ${open.mem}, canary in memory: ${open.memCanary}`);
      // Yama's ptrace_scope >= 1 already closes a non-child's mem; environ is not its business.
      if (scope === undefined || scope === 0) assert.equal(open.memCanary, true, 'the control memory must be readable, or the test proves nothing');
      control.child.stdin!.end();

      const hard = await subject('harden', canary);
      assert.equal(hard.info.uid, uid);
      assert.equal(hard.info.ffi, rt.name.includes('bun') ? 'bun:ffi' : 'koffi');
      assert.equal(hard.info.dumpable, false, 'harden() read-back');
      assert.equal(hard.info.dumpableNow, false, 'dumpable() read-back');
      assert.equal(hard.info.coreLimit, 0);
      assert.equal(hard.info.mlock, true, 'mlock of one small buffer');
      const closed = readAsSibling(hard.info.pid, canary);
      assert.equal(closed.environ, 'EACCES');
      assert.equal(closed.environCanary, false);
      assert.notEqual(closed.mem, 'ok');
      assert.equal(closed.memCanary, false);
      hard.child.stdin!.end();
    });

    test(`${rt.name}: peer() names the connecting client's real pid and uid, and its pidfd reads -1 once it exited`, async () => {
      const dir = unprivilegedHome('lsm-peer-');
      try {
        const sock = join(dir, 's');
        const server = spawnAs(rt.cmd, [...rt.args, 'peer', sock], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(server);
        const lines: string[] = [];
        let buf = '';
        const done = new Promise<void>((resolve, reject) => {
          server.stdout!.on('data', (d) => {
            buf += String(d);
            lines.push(...buf.split('\n').slice(0, -1));
            buf = buf.slice(buf.lastIndexOf('\n') + 1);
            if (lines.length >= 2) resolve();
          });
          server.on('exit', (code) => (lines.length >= 2 ? resolve() : reject(new Error(`server exited ${code}`))));
        });
        await firstLine(server);
        const client = spawnAs(process.execPath, ['--import', 'tsx', SUBJECT, 'client', sock], { stdio: 'ignore' });
        const clientPid = client.pid!;
        await done;
        const report = JSON.parse(lines[1]!) as { cred?: { pid: number; uid: number; hasPidfd: boolean }; client: { pid: number }; live?: number; after?: number };
        assert.ok(report.cred, 'peer() returned the credentials');
        assert.equal(report.cred.pid, clientPid, 'the pid is the client process itself');
        assert.equal(report.cred.uid, unprivilegedIds().uid);
        const [major = 0, minor = 0] = release().split('.').map(Number);
        if (major > 6 || (major === 6 && minor >= 5)) {
          assert.equal(report.cred.hasPidfd, true, 'SO_PEERPIDFD on Linux >= 6.5');
          assert.equal(report.live, clientPid, 'the pidfd names the client while it runs');
          assert.equal(report.after, -1, 'the pidfd reads -1 once the client is gone');
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
