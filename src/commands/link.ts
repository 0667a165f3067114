import { requireHome } from './common.js';
import { checkName } from '../names.js';
import { editConfig } from '../config.js';
import { record } from '../audit/record.js';
import type { Context } from '../context.js';

export async function run(ctx: Context, args: string[]): Promise<number> {
  const app = checkName('app', args[0]);
  requireHome(ctx);
  const moved: string[] = [];
  let previous: string | undefined;
  await editConfig(ctx.home, (doc) => {
    const was = doc.getIn(['apps', app]);
    if (typeof was === 'string' && was !== ctx.cwd) previous = was;
    const apps = doc.get('apps');
    if (apps && typeof apps === 'object' && 'items' in apps) {
      // One directory belongs to one app: drop any other name linked here.
      for (const item of [...(apps as { items: { key: unknown; value: unknown }[] }).items]) {
        const name = String((item.key as { value?: unknown })?.value ?? item.key);
        const dir = String((item.value as { value?: unknown })?.value ?? item.value);
        if (name !== app && dir === ctx.cwd) {
          doc.deleteIn(['apps', name]);
          moved.push(name);
        }
      }
    }
    doc.setIn(['apps', app], ctx.cwd);
  });
  await record(ctx, { event: 'link', app, fields: { replaced: moved } }, { failClosed: false });
  for (const m of moved) ctx.stderr.write(`lsm: unlinked ${m} (it pointed at the same directory)\n`);
  // One app has one directory: linking it here moves it away from where it was.
  if (previous) ctx.stderr.write(`lsm: ${app} was linked to ${previous}; that directory is no longer linked to it\n`);
  ctx.stdout.write(`Linked ${app} -> ${ctx.cwd}\n`);
  return 0;
}
