'use strict';
// Build step: runs `lsm <args>` once in this process through the launcher's compile(),
// then saves V8's code cache of one bundle, which then holds the functions that ran,
// not only the top level. Usage: node scripts/code-cache.cjs <dist/lsm.cjs> <bundle> <lsm args...>
const fs = require('fs');
const { compile, run, file } = require(require('path').resolve(process.argv[2]));

const bundle = process.argv[3];
const script = compile(bundle, undefined);
const argv = process.argv.slice(4);
process.argv = [process.argv[0], 'lsm', ...argv];
process.on('exit', () => fs.writeFileSync(file(bundle, 'cache'), script.createCachedData()));
const entry = run(bundle, script);
// The get bundles' start: lsm-get's hands what it does not serve on; here that is the end of the run.
if (bundle !== 'lsm-core' && !entry.start(argv, () => {})) throw new Error(`code-cache: ${bundle} declined ${argv.join(' ')}`);
