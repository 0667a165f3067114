#!/usr/bin/env node
'use strict';
// lsm's launcher. It runs the bundle (lsm-core.cjs) through a V8 code cache made at
// build time, which spares compiling ~300 KB of JavaScript on every start: `lsm get`
// runs inside $(...) and inside every tool call of an agent. When the cache does not
// fit this Node (another version), V8 rejects it and the bundle compiles as usual.
const fs = require('fs');
const path = require('path');
const vm = require('vm');

const CORE = path.join(__dirname, 'lsm-core.cjs');
const CACHE = path.join(__dirname, 'lsm-core.cache');

function compile(cachedData) {
  const source = fs.readFileSync(CORE, 'utf8');
  return new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: CORE,
    cachedData,
  });
}

function run(script) {
  const mod = { exports: {}, filename: CORE, id: CORE, loaded: false, children: [], paths: module.paths };
  script.runInThisContext().call(mod.exports, mod.exports, require, mod, CORE, __dirname);
}

if (require.main === module) {
  let cachedData;
  try {
    cachedData = fs.readFileSync(CACHE);
  } catch {
    // no cache: compile
  }
  run(compile(cachedData));
} else {
  module.exports = { compile, run, CACHE };
}
