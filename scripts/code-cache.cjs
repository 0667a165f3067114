'use strict';
// Build step: runs `lsm <args>` once in this process through the launcher's compile(),
// then saves V8's code cache, which then holds the functions that ran, not only the
// top level. Usage: node scripts/code-cache.cjs <dist/lsm.cjs> <lsm args...>
const fs = require('fs');
const { compile, run, CACHE } = require(require('path').resolve(process.argv[2]));

const script = compile(undefined);
process.argv = [process.argv[0], 'lsm', ...process.argv.slice(3)];
process.on('exit', () => fs.writeFileSync(CACHE, script.createCachedData()));
run(script);
