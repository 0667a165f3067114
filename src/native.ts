/**
 * The entry of the native executable (scripts/build-native.mjs), with the launcher's
 * rule: a plain `lsm get` runs bin-get.ts alone; everything else, bin.ts.
 */
const argv = process.argv.slice(2);
const fast = argv.includes('get') ? import('./bin-get.js').then((m) => m.start(argv)) : Promise.resolve(false);
void fast.then((started) => started || import('./bin.js'));
