// Issue 22: what `lsm shield -- true` costs over `true` (the walk that builds the Landlock
// ruleset, the exec stub, the spawn), beside lsm's own start-up. All interleaved.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LSM, benchEnv, interleave, run, tempHome, fmt, ratio } from './lib.mjs';

export const title = 'Start-up: lsm shield -- true';

export async function bench({ rounds }) {
  const h = tempHome('lsm-bench-shield-');
  try {
    const env = benchEnv({ LSM_DIR: join(h.dir, 'h'), HOME: h.dir });
    const node = [process.execPath, LSM];
    run([...node, 'init'], { env });
    const proj = join(h.dir, 'proj');
    mkdirSync(join(proj, 'src'), { recursive: true });
    writeFileSync(join(proj, '.env'), 'A=1\n');
    const t = '/bin/true';
    const n = rounds * 2;
    const m = interleave([
      { name: 'true', argv: [t], env, cwd: proj },
      { name: 'lsm --version', argv: [...node, '--version'], env, cwd: proj },
      { name: 'shield', argv: [...node, 'shield', '--', t], env, cwd: proj },
      { name: 'shield home only', argv: [...node, 'shield', '--no-env-files', '--', t], env, cwd: proj },
    ], n);
    const over = m.shield - m.true;
    return {
      rows: [
        ['true', fmt(m.true), '1.00x', 'the floor'],
        ['lsm --version', fmt(m['lsm --version']), ratio(m['lsm --version'], m.true), "lsm's own start-up (Node)"],
        ['lsm shield -- true', fmt(m.shield), ratio(m.shield, m['lsm --version']), `${over.toFixed(1)} ms over true (target <= 50 ms, issue 22); ratio against lsm --version`],
        ['lsm shield --no-env-files -- true', fmt(m['shield home only']), ratio(m['shield home only'], m['lsm --version']), 'no .env search under the cwd'],
      ],
      notes: `Median of ${n} interleaved runs each. The shield walks the directories on the way to the home and to each protected file, opens one O_PATH descriptor per entry beside that path for its rule, and starts the exec stub, which restricts itself and execs the command. It runs from its own bundle (dist/lsm-shield.cjs), so it can cost less than \`lsm --version\`, which loads every command; most of the figure is Node's own start-up and koffi's.`,
      figures: { overheadMs: over, overVersionMs: m.shield - m['lsm --version'] },
    };
  } finally {
    h.cleanup();
  }
}
