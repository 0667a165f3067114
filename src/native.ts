/**
 * The entry of the native executable (scripts/build-native.mjs), with the launcher's
 * rule: a plain `lsm get` runs bin-get.ts (through the keeper) or bin-local-get.ts alone,
 * a plain `lsm shield` bin-shield.ts; everything else, bin.ts. bin-get.ts is in the
 * entry's own chunk: loading it as a chunk of its own cost a get through the keeper about
 * a millisecond of its 13, and what it evaluates is small.
 */
import { start as startGet } from './bin-get.js';

const argv = process.argv.slice(2);
const core = () => void import('./bin.js');
const fast = argv.includes('get')
  ? Promise.resolve(startGet(argv, (next) => {
    if (next === 'core') core();
    else void import('./bin-local-get.js').then((l) => l.start(argv) || core());
  }))
  : argv.includes('shield') ? import('./bin-shield.js').then((m) => m.start(argv)) : Promise.resolve(false);
void fast.then((started) => started || core());
