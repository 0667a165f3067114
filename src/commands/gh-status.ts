import { usage } from '../errors.js';
import { record } from '../audit/record.js';
import { vaultOf } from '../vault-of.js';
import {
  auditTarget, byteOrder, ghName, ghPreflight, ghTargetOf, listRemote, markerTarget, readMarker,
  resolveGhProject, targetLabel, type GhTarget, type Marker, type RemoteSecret,
} from '../github.js';
import { requireHome } from './common.js';
import type { Context } from '../context.js';

export interface Comparison {
  inSync: { name: string; updatedAt: string }[];
  localOnly: string[];
  remoteOnly: RemoteSecret[];
}

/** Local key names against the remote list; GitHub names match regardless of case. */
export function compare(local: readonly string[], remote: readonly RemoteSecret[]): Comparison {
  const byName = new Map(remote.map((r) => [ghName(r.name), r]));
  const localSet = new Set(local.map(ghName));
  const sorted = [...local].sort(byteOrder);
  return {
    inSync: sorted.filter((n) => byName.has(ghName(n))).map((n) => ({ name: n, updatedAt: byName.get(ghName(n))!.updatedAt })),
    localOnly: sorted.filter((n) => !byName.has(ghName(n))),
    remoteOnly: [...remote].filter((r) => !localSet.has(ghName(r.name))).sort((a, b) => byteOrder(a.name, b.name)),
  };
}

/** Why the marker disagrees with what GitHub shows now (empty: no drift). */
export function driftReasons(marker: Marker, gt: GhTarget, remoteCount: number): string[] {
  const out: string[] = [];
  if (marker.repo !== gt.repo) out.push(`the marker's repo ${marker.repo || '(none)'} is not the queried repo ${gt.repo}`);
  if (marker.target !== markerTarget(gt)) out.push(`the marker's target ${marker.target || '(none)'} is not the queried target ${markerTarget(gt)}`);
  if (out.length === 0 && remoteCount === 0) {
    out.push(`GitHub has no secrets for ${markerTarget(gt)}, but lsm pushed ${marker.last_count ?? 0} there`);
  }
  return out;
}

export function render(gt: GhTarget, c: Comparison, marker: Marker | undefined, remoteCount: number): string {
  const updated = (at: string) => `  (github updated ${at || 'unknown'})`;
  let s = `GitHub secrets status for ${targetLabel(gt)}\n`;
  s += `\nIn sync (${c.inSync.length}):\n${c.inSync.map((e) => `  ${e.name}${updated(e.updatedAt)}\n`).join('')}`;
  s += `\nLocal only — would be pushed (${c.localOnly.length}):\n${c.localOnly.map((n) => `  ${n}\n`).join('')}`;
  s += `\nRemote only — on GitHub, not local (${c.remoteOnly.length}):\n${c.remoteOnly.map((r) => `  ${r.name}${updated(r.updatedAt)}\n`).join('')}`;
  if (marker) {
    s += '\nLocal marker (a hint only; live GitHub state above is authoritative):\n';
    s += `  lsm last pushed ${marker.last_count ?? 0} secret(s)${marker.env ? ` from env ${marker.env}` : ''} to ${marker.repo} ${marker.target} at ${marker.last_pushed ?? 'unknown time'}\n`;
    const reasons = driftReasons(marker, gt, remoteCount);
    if (reasons.length > 0) {
      s += '  DRIFT: the live GitHub state disagrees with this local marker:\n';
      s += reasons.map((r) => `    - ${r}\n`).join('');
      s += '  Trust the live state above; the marker is only a local record of the last lsm push.\n';
    }
  }
  return s;
}

export async function run(ctx: Context, _args: string[], opts: { repo?: string; ghEnv?: string; format?: string }): Promise<number> {
  requireHome(ctx);
  const format = (opts.format ?? 'text').trim().toLowerCase();
  if (format !== 'text' && format !== 'json') throw usage(`unknown --format ${JSON.stringify(opts.format)}`, 'expected text or json');
  const { target, config } = await resolveGhProject(ctx);
  const gt = ghTargetOf(ctx, opts);
  // Names only, through the vault, as push sends them: canaries stay home, so they are
  // not "would be pushed". No value reaches this process, nor gh: its list cannot quote one.
  const local = await (await vaultOf(ctx)).ghNames(target, { command: 'gh_status', fields: {} });
  ghPreflight(ctx);
  const remote = listRemote(ctx, gt);
  const c = compare(local, remote);
  const marker = readMarker(config.tree, target.app);
  const drift = marker ? driftReasons(marker, gt, remote.length).length > 0 : false;
  if (format === 'json') {
    ctx.stdout.write(`${JSON.stringify({
      target: targetLabel(gt),
      in_sync: c.inSync.map((e) => ({ name: e.name, updated_at: e.updatedAt || null })),
      local_only: c.localOnly,
      remote_only: c.remoteOnly.map((r) => ({ name: r.name, updated_at: r.updatedAt || null })),
      drift: marker ? driftReasons(marker, gt, remote.length) : [],
    })}\n`);
  } else ctx.stdout.write(render(gt, c, marker, remote.length));
  await record(ctx, {
    event: 'gh_status', ...target,
    fields: { repo: gt.repo, target: auditTarget(gt), in_sync: c.inSync.length, local_only: c.localOnly.length, remote_only: c.remoteOnly.length, drift },
  }, { failClosed: false }).catch(() => {});
  return 0;
}
