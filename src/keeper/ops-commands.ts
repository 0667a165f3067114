import { LsmError } from '../errors.js';
import { checkName } from '../names.js';
import type { Target } from '../resolve.js';
import type { Vault } from '../vault.js';

/**
 * The keeper's operations for edit, clean and gh (called from dispatch in server.ts):
 * each request's arguments checked, then the same vault operation an unprotected home
 * runs in its own process.
 */
function target(v: unknown): Target {
  const t = (v ?? {}) as Record<string, unknown>;
  return { app: checkName('app', String(t.app ?? '')), env: checkName('env', String(t.env ?? '')) };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const plain = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

export async function commandOp(vault: Vault, op: string, a: Record<string, unknown>): Promise<unknown> {
  const t = target(a.target);
  const r = plain(a.req);
  switch (op) {
    case 'edit.open':
      return vault.openEdit(t, { reason: str(r.reason) });
    case 'edit.save':
      if (typeof r.original !== 'string' || typeof r.edited !== 'string') throw new LsmError('usage', 'edit.save takes the revealed and the edited text');
      return vault.saveEdit(t, { original: r.original, edited: r.edited, token: String(r.token ?? '') });
    case 'clean.judge':
      return vault.judgeClean(t);
    case 'clean.remove': {
      const files = (Array.isArray(r.files) ? r.files : []).map(plain).map((f) => ({ name: String(f.name ?? ''), sha256: String(f.sha256 ?? '') }));
      return vault.removeClean(t, { files, kept: strings(r.kept) });
    }
    case 'gh.names': {
      const command = r.command === 'gh_push' ? 'gh_push' : r.command === 'gh_status' ? 'gh_status' : undefined;
      if (!command) throw new LsmError('usage', 'gh.names is for gh push and gh status');
      return vault.ghNames(t, { command, withCanaries: r.withCanaries === true, reason: str(r.reason), fields: plain(r.fields) });
    }
    default:
      throw new LsmError('usage', `the keeper has no operation ${JSON.stringify(op)}`);
  }
}
