// `npm run bench`: runs every suite in scripts/bench/ in one process, prints the
// figures and writes docs/benchmarks.md. Suites are listed in order; each exports
// `title` and `bench({ rounds })` → { rows: [[what, time, ratio, note]], notes? }.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './bench/lib.mjs';

const SUITES = ['startup', 'suspicious', 'ship', 'mask', 'native', 'seal'];
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const quick = process.argv.includes('--quick');
const rounds = quick ? 10 : 30;

const sections = [];
for (const name of SUITES) {
  if (only.length > 0 && !only.includes(name)) continue;
  const suite = await import(`./bench/${name}.mjs`);
  process.stderr.write(`bench: ${suite.title}...\n`);
  const t0 = Date.now();
  const result = await suite.bench({ rounds, quick });
  const table = ['| what | median | ratio | note |', '| --- | --- | --- | --- |', ...result.rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  console.log(`\n## ${suite.title}\n${table}`);
  sections.push(`## ${suite.title}\n\n${table}\n${result.notes ? `\n${result.notes}\n` : ''}\n_(suite took ${((Date.now() - t0) / 1000).toFixed(0)} s)_\n`);
}

if (only.length === 0) {
  const doc = `# Benchmarks

Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}.

Method: every figure is the median of ${rounds} runs, and the candidates of one table are run
interleaved (A, B, C, A, B, C...) in one process, so that a shared, noisy machine slows them
alike; the ratios are the result, the milliseconds only context. Every child runs without
\`NODE_EXTRA_CA_CERTS\` (this machine sets it; it adds 60-80 ms to each Node start and users do
not have it). Nothing here is asserted by the test suite: timing tests on shared machines fail
for reasons that are not bugs.

${sections.join('\n')}`;
  writeFileSync(join(ROOT, 'docs', 'benchmarks.md'), doc);
  process.stderr.write('bench: wrote docs/benchmarks.md\n');
}
