import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { listen, type Connection } from '../src/keeper/listener.ts';
import { exchange, open, ExchangeError } from '../src/keeper/exchange.ts';
import { uvPipe } from '../src/keeper/uv-pipe.ts';
import { loadPlatform } from '../src/platform.ts';
import { tempDir } from './helpers.ts';

/**
 * The keeper's side of its socket (src/keeper/listener.ts) and the client's connection
 * made before its request (src/keeper/exchange.ts open()): both on libuv's pipe handle
 * under Node. What each must still do: take a request whole, answer it whole, refuse
 * one over the limit, outlive a client that goes away, and time out.
 */
const sock = () => join(tempDir('lsm-listener-'), 's.sock');

test('the listener is on the pipe handle here, and takes a request whole and answers it whole', async () => {
  assert.ok(uvPipe(), 'under this Node the keeper does not need node:net');
  const path = sock();
  const got: string[] = [];
  const big = `${'y'.repeat(3 * 1024 * 1024)}é`;
  const server = await listen(path, 1024 * 1024, (c) => c.onRequest((req) => {
    got.push(req ? req.toString('utf8') : '(none)');
    c.reply(`${big}|${req?.length}\n`);
  }));
  try {
    const text = `${'x'.repeat(200_000)}\n`;
    const reply = (await exchange(path, text, 16 * 1024 * 1024, 10_000)).toString('utf8');
    assert.equal(got[0], text);
    assert.equal(reply, `${big}|${text.length}\n`);
  } finally {
    server.close();
  }
});

test('the accepted descriptor is the one the kernel names the caller on', async () => {
  const platform = await loadPlatform();
  const path = sock();
  let seen: { pid: number; uid: number } | undefined;
  const server = await listen(path, 1024, (c) => {
    seen = platform.peer(c.fd);
    c.onRequest(() => c.reply('ok\n'));
  });
  try {
    assert.equal((await exchange(path, 'hi', 1024, 10_000)).toString(), 'ok\n');
    assert.equal(seen?.pid, process.pid);
    assert.equal(seen?.uid, process.getuid!());
  } finally {
    server.close();
  }
});

test('a request over the limit, and a client that leaves without one, close only their own connection', async () => {
  const path = sock();
  const outcomes: string[] = [];
  const server = await listen(path, 1000, (c: Connection) => c.onRequest((req) => {
    outcomes.push(req === undefined ? 'refused' : `got ${req.length}`);
    if (req !== undefined) c.reply('fine\n');
  }));
  try {
    // Closed unanswered: the client's sendRequest says the keeper closed without an answer.
    const over = await exchange(path, 'z'.repeat(5000), 1024, 10_000).then((b) => b.length, (e: unknown) => (e instanceof ExchangeError ? 0 : -1));
    assert.equal(over, 0, 'no answer');
    // Connected, then gone without a byte: the connection ends with an empty request.
    await new Promise<void>((resolve) => {
      const s = connect(path, () => s.destroy());
      s.on('close', () => resolve());
    });
    assert.equal((await exchange(path, 'small', 1024, 10_000)).toString(), 'fine\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(outcomes.sort(), ['got 0', 'got 5', 'refused'].sort());
  } finally {
    server.close();
  }
});

test('the socket is made with the mode the umask gives, and a second listener on the path is refused', async () => {
  const path = sock();
  const old = process.umask(0o177);
  let server;
  try {
    server = await listen(path, 1024, () => {});
  } finally {
    process.umask(old);
  }
  try {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await assert.rejects(listen(path, 1024, () => {}), (e: unknown) => e instanceof Error && /EADDRINUSE/.test(String((e as { code?: string }).code)));
  } finally {
    server.close();
  }
});

test('a connection opened before its request: the server sees the connection first, then the request', async () => {
  const path = sock();
  const events: string[] = [];
  const server = createServer({ allowHalfOpen: true }, (c) => {
    events.push('connected');
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('end', () => {
      events.push(`request ${Buffer.concat(chunks).toString()}`);
      c.end('answer\n');
    });
  });
  await new Promise<void>((r) => server.listen(path, () => r()));
  try {
    const conn = open(path);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(events, ['connected'], 'connected before anything was sent');
    assert.equal((await conn.send('late', 1024, 10_000)).toString(), 'answer\n');
    assert.deepEqual(events, ['connected', 'request late']);
    await assert.rejects(conn.send('again', 1024, 10_000), /one request/);
  } finally {
    server.close();
  }
});

test('a one-line reply is whole at its newline, and a server that never answers still times out', async () => {
  const path = sock();
  // Answers a line and keeps the connection open; never answers "hang".
  const server = createServer({ allowHalfOpen: true }, (c) => {
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('end', () => {
      if (Buffer.concat(chunks).toString() !== 'hang') c.write('{"ok":true}\n');
    });
    c.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(path, () => r()));
  try {
    const line = await open(path).send('get', 1024, 10_000, { line: true });
    assert.equal(line.toString(), '{"ok":true}\n');
    // Without line the same reply is only whole at the end of the stream, which never comes.
    await assert.rejects(open(path).send('get', 1024, 300), (e: unknown) => e instanceof ExchangeError && e.code === 'ETIMEDOUT');
    await assert.rejects(open(path).send('hang', 1024, 300, { line: true }), (e: unknown) => e instanceof ExchangeError && e.code === 'ETIMEDOUT');
  } finally {
    server.close();
  }
});
