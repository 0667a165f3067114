#!/usr/bin/env node
'use strict';
// lsm's launcher. `lsm get` runs inside $(...) and inside every tool call of an agent, so
// start-up is lsm's main cost. Four bundles: lsm-get.cjs holds only what a plain `lsm get`
// of a protected home runs (a request to the keeper), lsm-local.cjs what a plain get of an
// unprotected home runs (it decrypts), lsm-shield.cjs a plain `lsm shield`, lsm-core.cjs
// every command. Each runs through a V8 code cache made at build time, which spares compiling its JavaScript on every start; when a cache does not fit this
// Node (another version), V8 rejects it and the bundle compiles as usual.
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const file = (bundle, ext) => path.join(__dirname, `${bundle}.${ext}`);

// A bundle is one function expression, (function (exports, require, module, ...) {...}),
// written so by the build.
function compile(bundle, cachedData) {
  return new vm.Script(fs.readFileSync(file(bundle, 'cjs'), 'utf8'), { filename: file(bundle, 'cjs'), cachedData });
}

function run(bundle, script) {
  const filename = file(bundle, 'cjs');
  const mod = { exports: {}, filename, id: filename, loaded: false, children: [], paths: module.paths };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, filename, __dirname);
  return mod.exports;
}

function load(bundle) {
  let cachedData;
  try {
    cachedData = fs.readFileSync(file(bundle, 'cache'));
  } catch {
    // no cache: compile
  }
  return run(bundle, compile(bundle, cachedData));
}

// A dist/ without a get bundle (an older build copied over) still works, only slower.
function loadIfThere(bundle) {
  try {
    return load(bundle);
  } catch (err) {
    if (err && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

function fastGet(argv) {
  if (!argv.includes('get')) return false;
  const entry = loadIfThere('lsm-get');
  if (!entry) return false;
  // lsm-get declines (and does nothing) when the arguments are not a plain get; a get it
  // does not serve itself it hands on.
  return entry.start(argv, (next) => {
    const local = next === 'local' ? loadIfThere('lsm-local') : undefined;
    if (!local || !local.start(argv)) load('lsm-core');
  });
}

// `lsm shield -- agent` starts an agent's whole session: lsm-shield.cjs holds only that.
function fastShield(argv) {
  if (!argv.includes('shield')) return false;
  const entry = loadIfThere('lsm-shield');
  return entry ? entry.start(argv) : false;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  if (!fastGet(argv) && !fastShield(argv)) load('lsm-core');
} else {
  module.exports = { compile, run, file };
}
