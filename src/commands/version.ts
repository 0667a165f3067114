import type { Context } from '../context.js';

declare const LSM_VERSION: string;
declare const LSM_COMMIT: string;
declare const LSM_BUILT: string;

export async function run(ctx: Context): Promise<number> {
  const version = typeof LSM_VERSION === 'string' ? LSM_VERSION : '0.0.0-dev';
  const lines = [`lsm ${version}`];
  if (typeof LSM_COMMIT === 'string' && LSM_COMMIT) lines.push(`  commit:  ${LSM_COMMIT}`);
  if (typeof LSM_BUILT === 'string' && LSM_BUILT) lines.push(`  built:   ${LSM_BUILT}`);
  lines.push(`  runtime: ${process.versions.bun ? `bun ${process.versions.bun}` : `node ${process.version}`}`);
  lines.push(`  os/arch: ${process.platform}/${process.arch}`);
  ctx.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
