// Issue 7: what sealing costs. (1) An append: `lsm get` in a sealed home against an
// unsealed one, interleaved; target <= 3 ms median overhead. (2) Verification with the
// key on 1,000,000 sealed rows against verification of the same log without it; target
// <= 1.5x. The sealed log is the generator's, re-chained and sealed here by an
// independent implementation of the key schedule (docs/tamper-evidence.md), so the
// bench also checks that lsm accepts seals it did not write.
import { closeSync, createReadStream, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import * as crypto from 'node:crypto';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { LSM, ROOT, benchEnv, interleave, measure, median, run, tempHome, fmt, ratio } from './lib.mjs';

export const title = 'Seals: lsm get in a sealed home against an unsealed one; verify with the key on 1,000,000 rows';

const ROWS = 1_000_000;
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex');
const ZERO = '0'.repeat(64);
// The canonical tail of a row: `"prev":"<64>","hash":"<64>"}`.
const TAIL = 8 + 64 + 10 + 64 + 2;

function b32(bytes) {
  const A = '0123456789abcdefghjkmnpqrstvwxyz';
  let n = BigInt(`0x${bytes.toString('hex')}`);
  let bits = bytes.length * 8;
  const pad = (5 - (bits % 5)) % 5;
  n <<= BigInt(pad);
  bits += pad;
  let out = '';
  for (let i = bits - 5; i >= 0; i -= 5) out += A[Number((n >> BigInt(i)) & 31n)];
  return out;
}

/** Writes a sealed copy of `src`: row 1 becomes the audit.seal.init, rows 2.. are re-chained and sealed. */
async function sealLog(src, dst) {
  const root = crypto.createHmac('sha256', crypto.randomBytes(32)).update('lsm seal v1 root').digest('hex');
  const keyId = sha(`lsm seal v1 id:${root}`).slice(0, 16);
  const body = b32(Buffer.from(root, 'hex')) + b32(Buffer.from(sha(`lsm seal v1 check:1:${root}`), 'hex')).slice(0, 4);
  const vk = `lsmvk1-1-${body.match(/.{8}/g).join('-')}`;
  const initHead = `{"schema_version":2,"seq":1,"ts":"2026-01-01T00:00:00Z","event":"audit.seal.init","outcome":"ok","actor":{"ppid":1,"parent_comm":"bash","tty":"","cwd":"/home/u","agent_marker":"","uid":1000,"pid":2,"ancestry":[]},"fields":{"key_id":"${keyId}"},"prev":"${ZERO}","hash":"`;
  let prev = sha(`${ZERO}${initHead}"}`);
  let key = root;
  const fd = openSync(dst, 'w', 0o600);
  let batch = [`${initHead}${prev}"}\n`];
  let seq = 0;
  for await (const line of createInterface({ input: createReadStream(src), crlfDelay: Infinity })) {
    if (++seq === 1) continue;
    const head = `${line.slice(0, -TAIL)}"prev":"${prev}","hash":"`;
    const hash = sha(`${prev}${head}"}`);
    key = sha(`lsm seal v1 evolve:${key}`);
    const mac = sha(`${key}:lsm seal v1:${seq}:${hash}`).slice(0, 32);
    batch.push(`${head}${hash}","seal":"${keyId}:${mac}"}\n`);
    prev = hash;
    if (batch.length >= 20000) {
      writeSync(fd, batch.join(''));
      batch = [];
    }
  }
  writeSync(fd, batch.join(''));
  closeSync(fd);
  return vk;
}

function homes(dir) {
  const make = (name, seal) => {
    const env = benchEnv({ LSM_DIR: join(dir, name) });
    run([process.execPath, LSM, 'init'], { env });
    run([process.execPath, LSM, 'set', 'app', 'dev', 'API_KEY', 'bench-value'], { env });
    if (seal) run([process.execPath, LSM, 'audit', 'seal', 'init', '--format', 'json'], { env });
    return env;
  };
  return { off: make('unsealed', false), on: make('sealed', true) };
}

export async function bench({ rounds, quick }) {
  const tmp = tempHome();
  try {
    const h = homes(tmp.dir);
    const get = [process.execPath, LSM, 'get', 'app', 'dev', 'API_KEY'];
    const a = interleave([
      { name: 'off', argv: get, env: h.off },
      { name: 'on', argv: get, env: h.on },
    ], rounds);
    const sealedRows = readFileSync(join(h.on.LSM_DIR, 'audit.jsonl'), 'utf8').trimEnd().split('\n').filter((l) => l.includes('"seal":"')).length;
    if (sealedRows < rounds) throw new Error('the sealed home did not seal its rows');

    const { generateAuditLog } = await import(join(ROOT, 'scripts', 'gen-audit-log.mjs'));
    const plain = join(tmp.dir, 'log-plain', 'audit.jsonl');
    const sealed = join(tmp.dir, 'log-sealed', 'audit.jsonl');
    mkdirSync(join(tmp.dir, 'log-plain'));
    mkdirSync(join(tmp.dir, 'log-sealed'));
    generateAuditLog(plain, ROWS, { seed: 7, start: '2026-01-01T00:00:00Z' });
    const vk = await sealLog(plain, sealed);
    const vkFile = join(tmp.dir, 'vk.txt');
    writeFileSync(vkFile, `${vk}\n`, { mode: 0o600 });
    const env = benchEnv({ LSM_DIR: join(tmp.dir, 'no-home') });
    const candidates = [
      ['unsealed log, verify', [plain]],
      ['sealed log, verify without the key', [sealed]],
      ['sealed log, verify --verification-key', [sealed, '--verification-key', vkFile]],
    ];
    const n = quick ? 1 : Math.max(3, Math.min(5, Math.round(rounds / 10)));
    const ms = Object.fromEntries(candidates.map(([name]) => [name, []]));
    for (let i = 0; i < n; i++) {
      for (const [name, [file, ...extra]] of candidates) {
        const m = measure([process.execPath, LSM, 'audit', 'verify', '--format', 'json', '--file', file, ...extra], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        if (m.status !== 0) throw new Error(`${name}: exit ${m.status}`);
        if (extra.length && JSON.parse(m.stdout).verdicts.seals.status !== 'ok') throw new Error('lsm did not accept the seals');
        ms[name].push(m.ms);
      }
    }
    const base = median(ms['sealed log, verify without the key']);
    const withKey = median(ms['sealed log, verify --verification-key']);
    const overhead = a.on - a.off;
    return {
      rows: [
        ['lsm get, unsealed home', fmt(a.off), '1.00x', ''],
        ['lsm get, sealed home', fmt(a.on), ratio(a.on, a.off), `overhead ${fmt(overhead)} (target <= 3 ms)`],
        ...candidates.map(([name]) => {
          const t = median(ms[name]);
          const note = name.includes('--verification-key') ? 'target <= 1.50x of verify without the key' : name.startsWith('sealed') ? 'the yardstick' : 'the same rows without seals';
          return [`${ROWS.toLocaleString('en')} rows: ${name}`, fmt(t), ratio(t, base), note];
        }),
      ],
      notes: 'A sealed append reads the key file, seals the row (two SHA-256 of short ASCII strings) and, after the ' +
        'row is fsynced, replaces the key file (write, fsync, rename, fsync of the directory). The 1,000,000-row ' +
        `log is scripts/gen-audit-log.mjs (seed 7) sealed by this suite; verify medians of ${n} interleaved runs; ` +
        'verifying with the key regenerates one key per row (SHA-256) and checks one seal per row (SHA-256).',
      figures: { appendOverheadMs: overhead, verifyRatio: withKey / base },
    };
  } finally {
    tmp.cleanup();
  }
}
