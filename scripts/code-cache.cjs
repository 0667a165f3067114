'use strict';
// Build step: runs `lsm <args>` once in this process through the launcher's compile(),
// then saves V8's code cache of one bundle, which then holds the functions that ran,
// not only the top level.
// Usage: node scripts/code-cache.cjs <dist/lsm.cjs> <bundle> [--fake-keeper] <lsm args...>
// --fake-keeper: the home (LSM_DIR) is made to look protected and a stand-in keeper
// answers on its socket, so that lsm-get's cache holds the path through the keeper
// without a passphrase, scrypt and a real keeper at every build.
const fs = require('fs');
const path = require('path');
const { compile, run, file } = require(path.resolve(process.argv[2]));

const bundle = process.argv[3];
let argv = process.argv.slice(4);
const fake = argv[0] === '--fake-keeper';
if (fake) argv = argv.slice(1);

function start() {
  const script = compile(bundle, undefined);
  process.argv = [process.argv[0], 'lsm', ...argv];
  process.on('exit', () => fs.writeFileSync(file(bundle, 'cache'), script.createCachedData()));
  const entry = run(bundle, script);
  // The get bundles' start: lsm-get's hands what it does not serve on; here that is the end of the run.
  if (bundle !== 'lsm-core' && !entry.start(argv, () => {})) throw new Error(`code-cache: ${bundle} declined ${argv.join(' ')}`);
}

if (fake) {
  const dir = process.env.LSM_DIR;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'key.age'), 'not a key: the build\'s stand-in\n', { mode: 0o600 });
  const sock = path.join(dir, 'keeper.sock');
  const server = require('net').createServer((c) => {
    c.on('data', () => {});
    c.on('end', () => c.end(`${JSON.stringify({ ok: true, result: 'value' })}\n`));
  });
  server.listen(sock, () => {
    fs.chmodSync(sock, 0o600);
    server.unref();
    start();
  });
} else {
  start();
}
