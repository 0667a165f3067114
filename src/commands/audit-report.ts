import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT } from '../errors.js';
import { writeFileAtomic } from '../atomic.js';
import { record } from '../audit/record.js';
import { actorOf as captured } from '../audit/actor.js';
import { readRows, SkipReporter } from '../audit/reader.js';
import { formatTs } from '../audit/event.js';
import { safe, textStyle } from '../audit/format.js';
import { WallClock } from '../audit/detectors.js';
import { ReportPass, howText, type ActorReport, type PlaceUse, type Report } from '../audit/report.js';
import { verifySealed, type SealVerifyResult } from '../audit/seal-verify.js';
import { callerClass } from '../policy.js';
import { paint, stdoutIsTTY } from '../term/tty.js';
import { settingsOf } from './audit-suspicious.js';
import { fileField, formatOf, logPath } from './audit-common.js';
import type { Command } from 'commander';
import type { Context } from '../context.js';

const DAY = 86_400_000;
const STATE = 'report-state.json';

/**
 * When this home's user last read a report: the default start of the next one. Only a
 * person at a terminal who saw the report on a terminal moves it, so an agent running
 * `lsm audit report` cannot push the user's next default window past what it did.
 */
function lastReport(ctx: Context): number | undefined {
  try {
    const ms = Date.parse(JSON.parse(readFileSync(join(ctx.home.dir, STATE), 'utf8')).last_report);
    // A marker in the future (clock trouble, an edit) would hide everything: ignore it.
    return Number.isFinite(ms) && ms <= ctx.now().getTime() ? ms : undefined;
  } catch {
    return undefined;
  }
}

export function integrityLine(v: SealVerifyResult): { text: string; ok: boolean } {
  const r = v.report;
  if (!r.exists) return { text: 'no audit log yet', ok: true };
  const { integrity, seals, completeness } = v.verdicts;
  const parts: string[] = [];
  if (integrity.status === 'fail' || r.problems.length > 0) {
    const first = r.problems[0]?.message ?? integrity.findings[0]?.message ?? integrity.summary;
    parts.push(`chain broken (${first})`);
  } else parts.push(`chain valid (${r.events} event${r.events === 1 ? '' : 's'})`);
  parts.push(seals.status === 'fail' ? `seals FAIL (${seals.findings[0]?.message ?? seals.summary})` : seals.ranges.length > 0 ? (seals.status === 'ok' ? 'sealed' : 'sealed, key not given') : 'not sealed');
  if (completeness.status === 'fail') parts.push(`completeness FAIL (${completeness.findings[0]?.message ?? completeness.summary})`);
  parts.push(completeness.anchored ? `anchored to ${completeness.anchored.checkpoints} checkpoints` : 'no anchors');
  return { text: `${v.ok ? 'OK' : 'FAIL'}: ${parts.join('; ')}`, ok: v.ok };
}

/** The detectors' names in words, for someone who has not read the docs; others as named. */
const FLAG_WORDS: Record<string, string> = {
  agent_plaintext: 'got plaintext',
  outside_hours: 'outside hours',
  burst: 'burst',
  new_parent_comm: 'never seen before',
  non_interactive_no_agent: 'no terminal or agent',
  canary: 'read a canary',
};

/** Items joined with "; " into lines of at most `width`. */
function wrap(items: string[], width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const it of items) {
    if (cur && cur.length + 2 + it.length > width) {
      lines.push(`${cur};`);
      cur = it;
    } else cur = cur ? `${cur}; ${it}` : it;
  }
  if (cur) lines.push(cur);
  return lines;
}

function minutes(clock: WallClock, ms: number): string {
  return clock.format(ms).slice(0, 16);
}

/** `2026-12-03 03:00 – 03:01`, the date once when both ends share it. */
function span(clock: WallClock, from: number, to: number): string {
  const a = minutes(clock, from);
  const b = minutes(clock, to);
  if (a === b) return a;
  return `${a} – ${a.slice(0, 10) === b.slice(0, 10) ? b.slice(11) : b}`;
}

function who(a: ActorReport): string {
  const id = a.id;
  if (id.kind === 'agent') {
    const via = id.process && id.process !== id.agent ? ` (under ${id.process})` : '';
    return `AGENT ${id.agent}${id.session ? `, session ${id.session.slice(0, 8)}` : ''}${via}`;
  }
  if (id.kind === 'unattended') return `NO TERMINAL ${id.process || '?'} (no agent marker)`;
  return `YOU at a terminal (${id.process || '?'})`;
}

/** Key names by use, as many as fit in `width`, then `+N more`. */
export function fitList(names: string[], width: number): string {
  let out = '';
  for (let i = 0; i < names.length; i++) {
    const rest = names.length - i - 1;
    const next = (out ? `${out}, ` : '') + names[i];
    const tail = rest > 0 ? `, +${rest} more` : '';
    if (next.length + tail.length > width && out) return `${out}, +${names.length - i} more`;
    out = next;
  }
  return out.length > width ? `${out.slice(0, Math.max(0, width - 1))}…` : out;
}

function keyNames(p: PlaceUse): string[] {
  return [...p.keys.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).map(([k]) => safe(k));
}

export function reportText(rep: Report, v: SealVerifyResult, o: { clock: WallClock; colour: boolean; width: number; hours: string; since: number; sinceNote: string; now: number }): string[] {
  const { clock, colour } = o;
  const width = Math.max(60, o.width);
  const out: string[] = [];
  const bold = (t: string) => paint(colour, 'bold', t);
  const until = rep.until ?? o.now;
  out.push(bold(`What touched your secrets, ${span(clock, o.since, until)}`));
  const callers = rep.actors.length;
  const flaggedActors = rep.actors.filter((a) => a.flagged > 0).length;
  out.push(
    `${rep.events} event${rep.events === 1 ? '' : 's'} by ${callers} caller${callers === 1 ? '' : 's'}, ` +
    `${flaggedActors === 0 ? 'nothing flagged' : `${flaggedActors} flagged`}; ${o.sinceNote}; ${clock.zone}`,
  );
  if (rep.actors.length === 0) out.push('', '   nobody touched a secret in this window');
  out.push('');
  // No blank line between callers: a night with six of them still fits 30 rows.
  for (const a of rep.actors) {
    const mark = a.high ? paint(colour, 'red', '!!') : a.flagged > 0 ? paint(colour, 'yellow', '! ') : '  ';
    const count = `${a.events} event${a.events === 1 ? '' : 's'}`;
    let title = safe(who(a));
    const room = width - 3 - count.length - 2;
    if (title.length > room) title = `${title.slice(0, Math.max(0, room - 1))}…`;
    out.push(`${mark} ${bold(title)}${' '.repeat(Math.max(2, width - 3 - title.length - count.length))}${count}`);
    const outside = a.outside > 0 ? `, ${a.outside === a.events ? 'all' : a.outside} outside ${o.hours}` : '';
    out.push(`   when   ${span(clock, a.firstMs, a.lastMs)}${outside}`);
    const shown = a.places.slice(0, 6);
    const pw = Math.min(18, Math.max(...shown.map((p) => safe(p.place).length)));
    const hows = shown.map((p) => howText(p.how, p.approved));
    const hw = Math.min(30, Math.max(...hows.map((h) => h.length)));
    shown.forEach((p, i) => {
      let place = safe(p.place);
      if (place.length > pw) place = `${place.slice(0, pw - 1)}…`;
      const head = `   ${i === 0 ? 'what' : '    '}   ${place.padEnd(pw)}  ${hows[i].padEnd(hw)}`;
      const names = keyNames(p);
      if (names.length === 0) out.push(head.trimEnd());
      else if (width - head.length - 2 >= 16) out.push(`${head}  ${fitList(names, width - head.length - 2)}`);
      else out.push(head.trimEnd(), `${' '.repeat(10)}${fitList(names, width - 10)}`);
    });
    if (a.places.length > shown.length) out.push(`          +${a.places.length - shown.length} more app/env`);
    if (a.flags.length === 0) continue;
    const flags = a.flags.map(([name, n]) => {
      const words = FLAG_WORDS[name] ?? safe(name);
      const prod = name === 'agent_plaintext' && a.places.some((p) => p.prod && p.how.plaintext) ? ' of prod' : '';
      return `${words}${prod}${n > 1 ? ` (${n})` : ''}`;
    });
    wrap(flags, width - 10).forEach((l, i) => out.push(`   ${i === 0 ? 'flags' : '     '}  ${paint(colour, a.high ? 'red' : 'yellow', l)}`));
  }
  out.push('');
  const integ = integrityLine(v);
  out.push(`${bold('log')}    ${paint(colour, integ.ok ? 'green' : 'red', fitList([integ.text], width - 7))}`);
  if (rep.flagged > 0) out.push(`more   lsm audit suspicious -v --since '${minutes(clock, o.since)}'`);
  return out;
}

export function reportJson(rep: Report, v: SealVerifyResult, since: number, now: number): string {
  const integ = integrityLine(v);
  return JSON.stringify({
    since: formatTs(new Date(since)),
    until: formatTs(new Date(rep.until ?? now)),
    events: rep.events,
    flagged: rep.flagged,
    actors: rep.actors.map((a) => ({
      actor: a.label,
      caller: a.id.kind,
      agent: a.id.agent || null,
      session: a.id.session || null,
      process: a.id.process,
      events: a.events,
      first: formatTs(new Date(a.firstMs)),
      last: formatTs(new Date(a.lastMs)),
      outside_hours: a.outside,
      how: a.how,
      approved: a.approved,
      high: a.high,
      flags: Object.fromEntries(a.flags),
      places: a.places.map((p) => ({ place: p.place, events: p.events, how: p.how, approved: p.approved, keys: Object.fromEntries(p.keys) })),
    })),
    integrity: { ok: integ.ok, summary: integ.text },
  });
}

export async function run(ctx: Context, _args: string[], opts: Record<string, any>, cmd?: Command): Promise<number> {
  const format = formatOf(opts, cmd);
  const settings = await settingsOf(ctx, opts);
  const path = logPath(ctx, opts);
  const now = ctx.now().getTime();
  const own = path === ctx.home.audit;
  let sinceNote = 'from --since';
  if (settings.since === undefined) {
    const last = own ? lastReport(ctx) : undefined;
    settings.since = last ?? now - DAY;
    sinceNote = last === undefined ? 'last 24 hours' : 'since your last report';
  }
  const since = settings.since;
  const clock = new WallClock(settings.utc);
  const skipped = new SkipReporter(path, ctx.stderr);
  const pass = new ReportPass(settings);
  for (const p of readRows(path, skipped)) pass.feed(p.row, p.raw);
  skipped.finish();
  const rep = pass.result();
  const verdict = verifySealed(path, { keyFileExpected: own });
  if (format === 'json') ctx.stdout.write(`${reportJson(rep, verdict, since, now)}\n`);
  else {
    const width = stdoutIsTTY() ? process.stdout.columns || 80 : 80;
    const lines = reportText(rep, verdict, {
      clock, colour: textStyle(ctx.env).colour, width, hours: settings.hours.text, since, sinceNote, now,
    });
    ctx.stdout.write(`${lines.join('\n')}\n`);
  }
  // Only the person, on a terminal, reading this home's own log moves "since last report".
  const advanced = own && format === 'text' && stdoutIsTTY() && settings.until === undefined && callerClass(captured(ctx)) === 'human';
  if (advanced) {
    try {
      writeFileAtomic(join(ctx.home.dir, STATE), `${JSON.stringify({ last_report: formatTs(new Date(now)) })}\n`);
    } catch (err) {
      ctx.stderr.write(`lsm: warning: cannot remember this report's time: ${(err as Error).message}\n`);
    }
  }
  await record(ctx, {
    event: 'audit.report',
    localOnly: true,
    fields: { events: rep.events, flagged: rep.flagged, actors: rep.actors.length, since: formatTs(new Date(since)), advanced, ...fileField(ctx, path) },
  }, { failClosed: false });
  if (!verdict.ok) return EXIT.failure;
  return rep.flagged > 0 && opts.failOnMatch ? EXIT.flagged : EXIT.ok;
}
