import { verifyLog, type VerifyOptions, type VerifyReport } from './verify.js';
import type { AnchorSet } from './anchors.js';
import {
  SEAL_GAP_EVENT, SEAL_INIT_EVENT, SEAL_LOST_EVENT, SEAL_RE, evolve, macOf, readKeyFile, sealKeyPath,
  type KeyFile, type VerificationKey,
} from './seal.js';

/**
 * `audit verify` beyond the chain: three verdicts, so that "the chain is intact" is never
 * read as "nothing is missing" (docs/tamper-evidence.md).
 * - integrity: the chain, and the chain heads shipped off the machine (anchors);
 * - seals: every sealed row against the key of its own seq (with a verification key),
 *   or at least that sealing, once begun, goes on (without one);
 * - completeness: the end of the log against the key file's index and the anchors.
 * All of it is checked in the one streaming pass of verifyLog.
 */

export type Status = 'ok' | 'fail' | 'unchecked';

export interface Finding {
  kind: string;
  seq: number;
  /** The last seq of a run of rows with the same problem. */
  seqTo?: number;
  message: string;
}

export interface Verdict {
  status: Status;
  summary: string;
  findings: Finding[];
  /** Findings beyond those kept. */
  more: number;
}

export interface SealedRange {
  keyId: string;
  from: number;
  to: number;
  rows: number;
  /** Each row checked against a verification key. */
  checked: boolean;
}

export interface Verdicts {
  integrity: Verdict;
  seals: Verdict & { ranges: SealedRange[]; unsealedBefore?: { from: number; to: number } };
  completeness: Verdict & { anchored?: { host: string; checkpoints: number; from: number; to: number } };
}

export interface SealVerifyOptions extends Omit<VerifyOptions, 'onRow'> {
  keys?: VerificationKey[];
  anchors?: AnchorSet;
  /** The key file is expected beside this log (it is the home's): its absence is tampering. */
  keyFileExpected?: boolean;
  /** The key file's state from elsewhere (a protected home's keeper, without the key itself); null: none to check. */
  keyFile?: KeyFile | null;
}

export interface SealVerifyResult {
  report: VerifyReport;
  verdicts: Verdicts;
  ok: boolean;
  /** Seals, a key file, a key or anchors are involved: worth the full verdicts. */
  inPlay: boolean;
}

const KEEP = 100;
const MARK_EVERY = 4096;
/** A jump further than this (a forged seq) is not followed by regenerating keys. */
const MAX_STEPS = 1 << 24;

function failSummary(f: Findings): string {
  const first = f.list[0];
  const n = f.list.length - 1 + f.more;
  return `FAIL (${SHORT[first.kind] ?? first.kind}${first.seq ? ` at seq ${range(first)}` : ''}${n > 0 ? `; ${plural(n, 'more problem')}` : ''})`;
}

class Findings {
  readonly list: Finding[] = [];
  more = 0;
  add(kind: string, seq: number, message: string | (() => string)): void {
    const last = this.list[this.list.length - 1];
    // A run of rows with one problem (seals stripped from a million rows) is one finding.
    if (last && last.kind === kind && seq === (last.seqTo ?? last.seq) + 1) {
      last.seqTo = seq;
      return;
    }
    if (this.list.length >= KEEP) {
      this.more++;
      return;
    }
    this.list.push({ kind, seq, message: typeof message === 'string' ? message : message() });
  }
}

/** Keys of one verification key by seq, forward by evolving, backward from a mark. */
class KeyWalker {
  private index: number;
  private key: string;
  private readonly marks = new Map<number, string>();
  constructor(private readonly initSeq: number, root: string) {
    this.index = initSeq;
    this.key = root;
    this.marks.set(initSeq, root);
  }

  at(seq: number): string | undefined {
    if (seq < this.initSeq) return undefined;
    if (seq < this.index) {
      const base = this.initSeq + Math.floor((seq - this.initSeq) / MARK_EVERY) * MARK_EVERY;
      this.index = base;
      this.key = this.marks.get(base)!;
    }
    if (seq - this.index > MAX_STEPS) return undefined;
    while (this.index < seq) {
      this.key = evolve(this.key);
      this.index++;
      if ((this.index - this.initSeq) % MARK_EVERY === 0) this.marks.set(this.index, this.key);
    }
    return this.key;
  }
}

interface KeyState {
  vk: VerificationKey;
  walker: KeyWalker;
  /** Rows after the init are this key's until a re-init it sealed, or a lost key. */
  active: boolean;
  sawInit: boolean;
  checked: number;
  from: number;
  to: number;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** What a finding means, in a few words, for the verdict line. */
const SHORT: Record<string, string> = {
  unsealed: 'no seal',
  wrong_key: 'sealed by another key',
  seal_mismatch: 'seal does not match the row',
  seal_malformed: 'malformed seal',
  seal_unchecked: 'key cannot be regenerated',
  not_init: 'not the seal init of this key',
  no_sealed_rows: 'no row sealed by this key',
  key_lost: 'seal key file lost',
  seal_without_init: 'sealed without a seal init',
  seal_key_changed: 'key changed without a seal init',
  key_file_orphan: 'seal key file without a seal init in the log',
  key_file_mismatch: 'seal key file of another key',
  key_taken_over: 'sealed by a key not given, started after it',
  key_file_rewound: "seal key file's key is not the key of its index",
  truncated: 'rows cut off',
  gap: 'rows missing (recorded gap)',
  key_file_missing: 'seal key file deleted',
  key_file_unreadable: 'seal key file unreadable',
  key_start_missing: "log ends before this key's seal init",
  anchor_missing: 'anchored rows missing',
  anchor_mismatch: 'differs from its anchor',
  anchor_conflict: 'two chain heads shipped for one seq',
};
const rowsMissing = (from: number, to: number) => (from === to ? `row ${from} is missing` : `rows ${from}..${to} are missing`);
const range = (f: Finding) => (f.seqTo !== undefined ? `${f.seq}..${f.seqTo}` : `${f.seq}`);

export function verifySealed(path: string, opts: SealVerifyOptions = {}): SealVerifyResult {
  const keys: KeyState[] = (opts.keys ?? []).map((vk) => ({
    vk, walker: new KeyWalker(vk.initSeq, vk.root), active: true, sawInit: false, checked: 0, from: 0, to: 0,
  }));
  const anchors = opts.anchors;
  // Read before the walk: an append racing with verify leaves the key file behind what
  // the walk reads, never ahead, so a race cannot look like a cut-off tail.
  const keyPath = sealKeyPath(path);
  let keyFile: KeyFile | undefined;
  let keyFileError: string | undefined;
  if (opts.keyFile !== undefined) {
    keyFile = opts.keyFile ?? undefined;
  } else {
    try {
      keyFile = readKeyFile(keyPath);
    } catch (err) {
      keyFileError = err instanceof Error ? err.message : String(err);
    }
  }
  const inPlayBefore = keys.length > 0 || !!anchors || !!keyFile || !!keyFileError;

  const integrity = new Findings();
  const seals = new Findings();
  const complete = new Findings();
  const sealedBy = new Map<string, { from: number; to: number; rows: number }>();
  let firstInit = 0;
  let currentId: string | undefined;
  let expectSealed = false;
  let anchorsMatched = 0;
  const anchorsSeen = new Set<number>();

  const onRow = (obj: Record<string, unknown>, seq: number, hash: string): void => {
    const event = obj.event;
    const fields = (obj.fields ?? undefined) as Record<string, unknown> | undefined;
    const sealText = typeof obj.seal === 'string' ? obj.seal : undefined;
    const m = sealText === undefined ? null : SEAL_RE.exec(sealText);
    if (sealText !== undefined && !m) seals.add('seal_malformed', seq, `the seal is not <key id>:<mac>`);
    const sid = m?.[1];
    if (sid) {
      const r = sealedBy.get(sid);
      if (r) {
        r.to = seq;
        r.rows++;
      } else sealedBy.set(sid, { from: seq, to: seq, rows: 1 });
    }

    if (anchors) {
      const want = anchors.bySeq.get(seq);
      if (want !== undefined && !anchorsSeen.has(seq)) {
        anchorsSeen.add(seq);
        if (want === hash) anchorsMatched++;
        else integrity.add('anchor_mismatch', seq, `the hash differs from the chain head shipped for it (host ${anchors.host}): this row or one before it was rewritten`);
      }
    }

    if (event === SEAL_LOST_EVENT) {
      seals.add('key_lost', seq, `the seal key file was ${fields?.reason === 'unreadable' ? 'unreadable' : 'gone'} (${SEAL_LOST_EVENT}): the rows from here on are not sealed`);
      for (const k of keys) k.active = false;
      expectSealed = false;
    }

    let covered = false;
    for (const k of keys) {
      const { vk } = k;
      if (seq === vk.initSeq) {
        k.sawInit = true;
        if (event !== SEAL_INIT_EVENT || fields?.key_id !== vk.keyId) {
          // Which of the two is for the user to tell: a key of another home looks the same from here.
          seals.add('not_init', seq, `not the ${SEAL_INIT_EVENT} of this verification key (key id ${vk.keyId}): the key is another home's, or the log was replaced or rewritten`);
        }
        continue;
      }
      if (seq < vk.initSeq || !k.active) continue;
      covered = true;
      if (!m) {
        if (event !== SEAL_LOST_EVENT) seals.add('unsealed', seq, () => `no seal, though key ${vk.keyId} seals every row after seq ${vk.initSeq} (seals stripped, or rows inserted)`);
        continue;
      }
      if (sid !== vk.keyId) {
        seals.add('wrong_key', seq, () => `sealed by key ${sid}, not by this verification key (${vk.keyId}): the log was replaced or re-sealed`);
        continue;
      }
      const key = k.walker.at(seq);
      if (key === undefined) {
        seals.add('seal_unchecked', seq, `too far past the row before it to regenerate its key`);
      } else if (macOf(key, seq, hash) !== m[2]) {
        seals.add('seal_mismatch', seq, () => `the seal does not match its row under the key of seq ${seq} (the row was rewritten, or sealed with another seq's key)`);
      } else {
        k.checked++;
        if (k.from === 0) k.from = seq;
        k.to = seq;
        // A re-init sealed by this key ends its range: the rows after are the new key's.
        if (event === SEAL_INIT_EVENT) k.active = false;
      }
    }

    if (!covered && event !== SEAL_LOST_EVENT) {
      if (expectSealed && !m) {
        seals.add('unsealed', seq, () => `no seal, though sealing began at seq ${firstInit + 1} (seals stripped, or rows inserted)`);
      } else if (sid && currentId === undefined) {
        seals.add('seal_without_init', seq, `sealed, but no ${SEAL_INIT_EVENT} comes before it (removed, or the rows come from another log)`);
      } else if (sid && sid !== currentId) {
        seals.add('seal_key_changed', seq, () => `sealed by key ${sid}, but the last ${SEAL_INIT_EVENT} named ${currentId}`);
      }
    }

    if (event === SEAL_INIT_EVENT && typeof fields?.key_id === 'string') {
      if (firstInit === 0) firstInit = seq;
      currentId = fields.key_id;
      expectSealed = true;
    }
    if (event === SEAL_GAP_EVENT) {
      const found = Number(fields?.found_last_seq);
      complete.add('gap', seq, `${rowsMissing(found + 1, seq - 1)}: the log ended at seq ${found} though the seal key file counted ${seq - 1} rows (recorded by ${SEAL_GAP_EVENT} at seq ${seq})`);
    }
  };

  const fullWalk = inPlayBefore || !!opts.all;
  const report = verifyLog(path, { all: fullWalk, onProgress: opts.onProgress, onRow });
  // The gap is the completeness verdict's to report.
  report.notes = report.notes.filter((n) => n.kind !== 'seal_gap');
  if (fullWalk && !opts.all) report.problems = report.problems.slice(0, 1);
  const last = report.lastSeq;

  // ---- integrity
  if (anchors) {
    for (const [seq, hashes] of anchors.conflicts) {
      integrity.add('anchor_conflict', seq, `${hashes.length} different chain heads were shipped for it: the log was rewritten after the first was sent`);
    }
  }
  const chainFailed = report.problems.length > 0;
  const integrityVerdict: Verdict = {
    status: chainFailed || integrity.list.length > 0 ? 'fail' : report.exists ? 'ok' : 'unchecked',
    summary: '',
    findings: integrity.list,
    more: integrity.more,
  };
  if (integrityVerdict.status === 'fail') {
    const chain = report.problems[0];
    integrityVerdict.summary = chain
      ? `FAIL (${chain.kind === 'ts_backwards' ? 'time goes backwards' : 'the hash chain is broken'} at seq ${chain.seq}${integrity.list.length ? `; ${failSummary(integrity).slice(6, -1)}` : ''})`
      : failSummary(integrity);
  } else if (!report.exists) {
    integrityVerdict.summary = 'nothing to check (no log)';
  } else {
    const anchored = anchors ? `; ${plural(anchorsMatched, 'anchored seq')} ${anchorsMatched === 1 ? 'matches' : 'match'}` : '';
    const caveat = keys.length === 0 && !anchors ? '; alone this cannot show a rewrite that recomputed every hash' : '';
    integrityVerdict.summary = `OK (events=${report.events}, hash chain intact from genesis${anchored}${caveat})`;
  }

  // ---- seals
  const ranges: SealedRange[] = [...sealedBy].map(([keyId, r]) => ({
    keyId, ...r, checked: keys.some((k) => k.vk.keyId === keyId && k.checked > 0),
  }));
  for (const k of keys) {
    if (!k.sawInit && last >= k.vk.initSeq) {
      seals.add('not_init', k.vk.initSeq, `not in the log, where this verification key's ${SEAL_INIT_EVENT} should be`);
    }
  }
  if (keyFile && report.exists) {
    if (currentId === undefined) {
      seals.add('key_file_orphan', 0, `the seal key file holds key ${keyFile.keyId}, but the log has no ${SEAL_INIT_EVENT}: the log was replaced, or its seal rows removed`);
    } else if (keyFile.keyId !== currentId) {
      seals.add('key_file_mismatch', 0, `the seal key file holds key ${keyFile.keyId}, but the log's last ${SEAL_INIT_EVENT} names ${currentId}: the key file was replaced`);
    }
  }
  // Whoever can run lsm can `seal init --force` and go on with a key of their own: rows
  // after the range of a key given here, sealed by a key not given, fail rather than
  // pass as "not checked". One who rotated the key gives both.
  const lastChecked = Math.max(0, ...ranges.filter((r) => r.checked).map((r) => r.to));
  if (keys.length > 0 && lastChecked > 0) {
    for (const r of ranges.filter((x) => !x.checked && x.from > lastChecked)) {
      if (seals.list.some((f) => f.seq <= r.from && (f.seqTo ?? f.seq) >= r.from)) continue; // said already
      seals.add('key_taken_over', r.from, `${r.from === r.to ? `row ${r.from} is` : `rows ${r.from}..${r.to} are`} sealed by key ${r.keyId}, started after the range of the key given by a 'seal init --force': give its verification key too if that was you; if not, someone else took over sealing`);
    }
  }
  const sealsVerdict: Verdicts['seals'] = { status: 'ok', summary: '', findings: seals.list, more: seals.more, ranges };
  if (firstInit > 1) sealsVerdict.unsealedBefore = { from: 1, to: firstInit };
  const describe = (r: SealedRange) => `seq ${r.from}..${r.to} sealed by key ${r.keyId}`;
  const before = firstInit > 0 ? `; seq 1..${firstInit} before sealing began` : '';
  if (!report.exists) {
    sealsVerdict.status = 'unchecked';
    sealsVerdict.summary = 'nothing to check (no log)';
  } else if (seals.list.length > 0) {
    sealsVerdict.status = 'fail';
    sealsVerdict.summary = failSummary(seals);
  } else if (keys.length > 0) {
    const checked = ranges.filter((r) => r.checked).map((r) => `${describe(r)}, each checked against the key of its own seq`);
    const other = ranges.filter((r) => !r.checked).map((r) => `${describe(r)}: not checked (give its verification key)`);
    if (checked.length > 0 || keys.every((k) => k.vk.initSeq === last)) {
      sealsVerdict.summary = `OK (${[...checked, ...other].join('; ') || 'no row after the seal init yet'}${before})`;
    } else {
      seals.add('no_sealed_rows', 0, 'no row of the log is sealed by the verification key given');
      sealsVerdict.status = 'fail';
      sealsVerdict.summary = failSummary(seals);
    }
  } else if (ranges.length > 0 || currentId !== undefined) {
    sealsVerdict.status = 'unchecked';
    sealsVerdict.summary = `not checked (no --verification-key): ${ranges.map(describe).join('; ') || 'no sealed row yet'}${before}`;
  } else {
    sealsVerdict.status = 'unchecked';
    sealsVerdict.summary = "not checked: the log is not sealed ('lsm audit seal init' starts sealing)";
  }

  // ---- completeness
  const witnesses: string[] = [];
  if (keyFileError) {
    complete.add('key_file_unreadable', 0, `the seal key file ${keyPath} is unreadable (${keyFileError}): the tail cannot be checked against it`);
  } else if (keyFile) {
    const written = keyFile.nextSeq - 1;
    if (written > last) {
      const where = last > 0 ? `ends at seq ${last}` : report.exists ? 'is empty' : 'does not exist';
      complete.add('truncated', last + 1, `the log ${where}, but the seal key file counts ${written} rows: ${rowsMissing(last + 1, written)} (cut off)`);
    } else if (written === last) {
      witnesses.push(`the log ends at seq ${last}, where the seal key file's index says it should`);
    } else {
      // lsm's own writer leaves it at most two rows behind (a crash between a row and the key file).
      const why = last - written <= 2
        ? 'an interrupted append, caught up by the next one'
        : 'rows were added by something that does not seal, or the key file was put back from a copy';
      witnesses.push(`the log ends at seq ${last}, ${plural(last - written, 'row')} past the seal key file's index: ${why}`);
    }
    // The index alone is no witness against someone who read the code: the file's check is
    // a plain hash, so a cut tail can come with a rewritten index. A key that has evolved
    // past that index cannot be taken back, and the verification key shows it.
    const own = keys.find((k) => k.vk.keyId === keyFile!.keyId);
    const expected = own?.walker.at(keyFile.nextSeq);
    if (expected !== undefined && keyFile.key && expected !== keyFile.key) {
      complete.add('key_file_rewound', Math.min(keyFile.nextSeq, last + 1), `the seal key file says seq ${keyFile.nextSeq} comes next, but its key is not the key of seq ${keyFile.nextSeq}: the index was rewritten (rows cut off after it?) or the file put back from a copy`);
    } else if (expected !== undefined && keyFile.key) {
      witnesses.push(`the seal key file's key is the verification key's for seq ${keyFile.nextSeq}`);
    }
  } else if (expectSealed && opts.keyFileExpected) {
    complete.add('key_file_missing', 0, `the log is sealed (key ${currentId}), but the seal key file ${keyPath} is gone: it was deleted, and the tail cannot be checked against it`);
  }
  for (const k of keys) {
    if (!k.sawInit && last < k.vk.initSeq) {
      complete.add('key_start_missing', k.vk.initSeq, `the log ends at seq ${last}, before seq ${k.vk.initSeq} where this verification key's ${SEAL_INIT_EVENT} is: rows were cut off, or the log was replaced`);
    }
  }
  let anchoredInfo: Verdicts['completeness']['anchored'];
  if (anchors && anchors.bySeq.size > 0) {
    anchoredInfo = { host: anchors.host, checkpoints: anchors.bySeq.size, from: anchors.minSeq, to: anchors.maxSeq };
    const missing = [...anchors.bySeq.keys()].filter((s) => !anchorsSeen.has(s)).sort((a, b) => a - b);
    for (const s of missing) {
      complete.add('anchor_missing', s, s > last
        ? `anchored (host ${anchors.host}), but the log ends at seq ${last}: rows were cut off`
        : `anchored (host ${anchors.host}), but not in the log: rows were deleted`);
    }
    if (missing.length === 0) witnesses.push(`anchored up to seq ${anchors.maxSeq} by ${plural(anchors.bySeq.size, 'checkpoint')} of host ${anchors.host}`);
  }
  const completeVerdict: Verdicts['completeness'] = { status: 'ok', summary: '', findings: complete.list, more: complete.more, anchored: anchoredInfo };
  if (complete.list.length > 0) {
    completeVerdict.status = 'fail';
    completeVerdict.summary = failSummary(complete);
  } else if (witnesses.length > 0) {
    completeVerdict.summary = `OK (${witnesses.join('; ')})`;
  } else {
    completeVerdict.status = 'unchecked';
    completeVerdict.summary = `not checked (no seal key file${opts.keyFileExpected ? '' : ' beside the log'} and no --anchors): a cut-off tail would not show`;
  }

  const verdicts: Verdicts = { integrity: integrityVerdict, seals: sealsVerdict, completeness: completeVerdict };
  const ok = Object.values(verdicts).every((v) => v.status !== 'fail');
  return { report, verdicts, ok, inPlay: inPlayBefore || sealedBy.size > 0 || currentId !== undefined };
}

/** The verdicts as the JSON output carries them. */
export function verdictsJson(v: Verdicts): Record<string, unknown> {
  const one = (x: Verdict) => ({ status: x.status, summary: x.summary, findings: x.findings, more: x.more });
  return {
    integrity: one(v.integrity),
    seals: { ...one(v.seals), sealed: v.seals.ranges.map((r) => ({ key_id: r.keyId, from: r.from, to: r.to, rows: r.rows, checked: r.checked })), unsealed_before: v.seals.unsealedBefore },
    completeness: { ...one(v.completeness), anchored: v.completeness.anchored },
  };
}

/** Text output: verdict lines for stdout, the findings of failed verdicts for stderr. */
export function verdictLines(v: Verdicts, all: boolean): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  for (const [name, verdict] of Object.entries(v) as Array<[string, Verdict]>) {
    out.push(`${name}: ${verdict.summary}`);
    const shown = all ? verdict.findings : verdict.findings.slice(0, 1);
    // Chain problems are printed by verify already; anchors are integrity's own.
    for (const f of shown) err.push(`FAIL ${name}${f.seq ? ` at seq=${range(f)}` : ''}: ${f.message}`);
    const hidden = verdict.findings.length - shown.length + verdict.more;
    if (hidden > 0) err.push(`FAIL ${name}: ${plural(hidden, 'more problem')}${all ? '' : ' (--all lists them)'}`);
  }
  return { out, err };
}
