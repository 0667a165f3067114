import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { errno, ioError, usage } from '../errors.js';
import { HASH_RE } from './chain.js';

/**
 * `audit verify --anchors FILE`: chain heads that left the machine in the checkpoints
 * the OTLP shipper sends (docs/tamper-evidence.md says how to get them back out of Loki
 * or a collector). One JSON object per line, any of:
 *   {"host": "h", "seq": 42, "hash": "<64 hex>"}          the documented form (seq may be a string)
 *   {"resourceLogs": [...]}                                a line of the collector's file exporter
 *   {"line": "<one of the above>", ...}                    logcli --output=jsonl
 */

export interface AnchorSet {
  file: string;
  host: string;
  /** seq -> the hash shipped for it (the first one seen). */
  bySeq: Map<number, string>;
  /** seqs for which two different hashes were shipped: the log was rewritten after the first. */
  conflicts: Map<number, string[]>;
  minSeq: number;
  maxSeq: number;
}

interface Anchor {
  host: string;
  seq: number;
  hash: string;
}

type Attr = { key?: unknown; value?: Record<string, unknown> };

function attrs(list: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!Array.isArray(list)) return out;
  for (const a of list as Attr[]) {
    const v = a?.value;
    if (typeof a?.key !== 'string' || !v || typeof v !== 'object') continue;
    out.set(a.key, v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue);
  }
  return out;
}

function seqOf(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return Number.isSafeInteger(n) && (n as number) > 0 ? (n as number) : undefined;
}

/** Checkpoint records of one OTLP/JSON export request. */
function fromOtlp(req: Record<string, unknown>): Anchor[] {
  const out: Anchor[] = [];
  for (const rl of (req.resourceLogs as Array<Record<string, any>>) ?? []) {
    const res = attrs(rl?.resource?.attributes);
    const host = String(res.get('host.name') ?? res.get('service.instance.id') ?? '');
    for (const sl of (rl?.scopeLogs as Array<Record<string, any>>) ?? []) {
      for (const rec of (sl?.logRecords as Array<Record<string, any>>) ?? []) {
        const a = attrs(rec?.attributes);
        if (a.get('lsm.kind') !== 'checkpoint') continue;
        const seq = seqOf(a.get('lsm.seq'));
        const hash = a.get('lsm.chain.head');
        // A heartbeat before anything was shipped names seq 0: nothing to anchor.
        if (seq !== undefined && typeof hash === 'string' && HASH_RE.test(hash)) out.push({ host, seq, hash });
      }
    }
  }
  return out;
}

function parseLine(text: string, where: string): Anchor[] {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw usage(`${where}: not JSON`, 'one checkpoint per line: {"host":"…","seq":N,"hash":"<64 hex>"}');
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw usage(`${where}: not a JSON object`);
  const r = o as Record<string, unknown>;
  if (typeof r.line === 'string' && r.seq === undefined) return parseLine(r.line, where);
  if (Array.isArray(r.resourceLogs)) return fromOtlp(r);
  const seq = seqOf(r.seq);
  if (seq === undefined || typeof r.hash !== 'string' || !HASH_RE.test(r.hash)) {
    throw usage(`${where}: not a checkpoint (needs a positive "seq" and a 64-hex "hash")`);
  }
  return [{ host: typeof r.host === 'string' ? r.host : '', seq, hash: r.hash }];
}

/** Reads the anchors of one host: `host`, else the only one in the file, else this machine's name. */
export function readAnchors(path: string, host?: string): AnchorSet {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (errno(err) === 'ENOENT') throw usage(`anchors file not found: ${path}`);
    throw ioError('read', path, err);
  }
  const all: Anchor[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim()) all.push(...parseLine(line, `${path}:${i + 1}`));
  });
  if (all.length === 0) throw usage(`no checkpoint in ${path}`, 'see docs/tamper-evidence.md for how to get them from Loki or a collector');
  const hosts = [...new Set(all.map((a) => a.host))];
  let chosen = host;
  if (chosen === undefined) {
    if (hosts.length <= 1) chosen = hosts[0] ?? '';
    else if (hosts.includes(hostname())) chosen = hostname();
    else throw usage(`${path} holds checkpoints of several hosts (${hosts.join(', ')})`, 'pick one with --anchor-host NAME');
  } else if (!hosts.includes(chosen)) {
    throw usage(`${path} holds no checkpoint of host ${JSON.stringify(chosen)}`, hosts.length ? `it has: ${hosts.join(', ')}` : undefined);
  }
  const set: AnchorSet = { file: path, host: chosen, bySeq: new Map(), conflicts: new Map(), minSeq: 0, maxSeq: 0 };
  for (const a of all) {
    if (a.host !== chosen) continue;
    const seen = set.bySeq.get(a.seq);
    if (seen === undefined) set.bySeq.set(a.seq, a.hash);
    else if (seen !== a.hash) {
      const list = set.conflicts.get(a.seq) ?? [seen];
      if (!list.includes(a.hash)) list.push(a.hash);
      set.conflicts.set(a.seq, list);
    }
    set.minSeq = set.minSeq === 0 ? a.seq : Math.min(set.minSeq, a.seq);
    set.maxSeq = Math.max(set.maxSeq, a.seq);
  }
  return set;
}
