import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exchange, ExchangeError, onPipeHandle } from '../src/keeper/exchange.ts';
import { tempDir } from './helpers.ts';

/**
 * The client's one exchange with the keeper, on libuv's pipe handle under Node (node:net
 * otherwise): what the server got, what came back, and each way it can fail.
 */
function serve(answer: (req: string) => string | undefined): Promise<{ path: string; server: Server; got: string[] }> {
  const path = join(tempDir('lsm-exchange-'), 's.sock');
  const got: string[] = [];
  const server = createServer({ allowHalfOpen: true }, (c) => {
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('end', () => {
      const req = Buffer.concat(chunks).toString('utf8');
      got.push(req);
      const reply = answer(req);
      if (reply === undefined) return; // never answers
      c.end(reply);
    });
  });
  return new Promise((resolve) => server.listen(path, () => resolve({ path, server, got })));
}

test('a request goes out whole (half-closed) and a reply of many chunks comes back whole', async () => {
  // The point of the module: under this Node the exchange does not need node:net. If this fails, node:net took over, slower.
  assert.equal(onPipeHandle(), !process.versions.bun);
  const big = 'x'.repeat(3 * 1024 * 1024) + 'é';
  const { path, server, got } = await serve((req) => `${req.trim()}|${big}`);
  try {
    const text = `{"op":"get","pad":"${'y'.repeat(200_000)}"}\n`;
    const reply = (await exchange(path, text, 16 * 1024 * 1024, 10_000)).toString('utf8');
    assert.equal(got[0], text);
    assert.equal(reply, `${text.trim()}|${big}`);
  } finally {
    server.close();
  }
});

test('a reply over the limit, a socket nobody serves, no socket, and no answer in time each fail with their code', async () => {
  const { path, server } = await serve((req) => (req.includes('hang') ? undefined : 'z'.repeat(2048)));
  try {
    await assert.rejects(exchange(path, 'big', 1024, 10_000), (e: unknown) => e instanceof ExchangeError);
    await assert.rejects(exchange(path, 'hang', 1024, 200), (e: unknown) => e instanceof ExchangeError && e.code === 'ETIMEDOUT');
  } finally {
    server.close();
  }
  await assert.rejects(exchange(join(tempDir('lsm-exchange-'), 'none.sock'), 'x', 1024, 10_000), (e: unknown) => e instanceof ExchangeError && e.code === 'ENOENT');
  // A socket file left by a server that was killed: nobody accepts on it.
  const leftover = join(tempDir('lsm-exchange-'), 'left.sock');
  const child = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(leftover)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  assert.equal(child.signal, 'SIGKILL');
  await assert.rejects(exchange(leftover, 'x', 1024, 10_000), (e: unknown) => e instanceof ExchangeError && e.code === 'ECONNREFUSED');
});

test('with --pending-deprecation (where process.binding would warn) node:net does the exchange, and nothing is printed', async () => {
  const { path, server } = await serve(() => 'pong');
  try {
    const dir = tempDir('lsm-exchange-');
    const script = join(dir, 'run.mts');
    writeFileSync(script, `import { exchange } from ${JSON.stringify(join(process.cwd(), 'src/keeper/exchange.ts'))};\nprocess.stderr.write(String((await import(${JSON.stringify(join(process.cwd(), 'src/keeper/exchange.ts'))})).onPipeHandle()));\nprocess.stdout.write((await exchange(${JSON.stringify(path)}, 'ping', 1024, 10_000)).toString());\n`);
    const run = (flags: string[]) => new Promise<{ out: string; err: string }>((resolve) => {
      const c = spawn(process.execPath, [...flags, '--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => { out += d; });
      c.stderr.on('data', (d) => { err += d; });
      c.on('close', () => resolve({ out, err }));
    });
    for (const flags of [[], ['--pending-deprecation']]) {
      const r = await run(flags);
      assert.equal(r.out, 'pong', `${flags.join(' ')}: ${r.err}`);
      assert.equal(r.err, flags.length === 0 ? 'true' : 'false', 'no warning, and the pipe handle only without the flag');
    }
  } finally {
    server.close();
  }
});
