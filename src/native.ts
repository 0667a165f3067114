/**
 * The entry of the native executable (scripts/build-native.mjs), with the launcher's
 * rule: a plain `lsm get` runs bin-get.ts (through the keeper) or bin-local-get.ts alone,
 * a plain `lsm shield` bin-shield.ts; everything else, bin.ts.
 */
const argv = process.argv.slice(2);
const core = () => void import('./bin.js');
const fast = argv.includes('get')
  ? import('./bin-get.js').then((m) => m.start(argv, (next) => {
    if (next === 'core') core();
    else void import('./bin-local-get.js').then((l) => l.start(argv) || core());
  }))
  : argv.includes('shield') ? import('./bin-shield.js').then((m) => m.start(argv)) : Promise.resolve(false);
void fast.then((started) => started || core());
