import { usage } from '../errors.js';
import { paint, stdoutIsTTY, useColor } from '../term/tty.js';
import type { AuditRow } from './event.js';

/**
 * How audit commands print rows: JSONL (the stored line, byte for byte) when piped,
 * aligned columns in local time on a terminal. Text output escapes control characters:
 * a row can hold anything, and must not be able to drive the terminal.
 */

export type Format = 'json' | 'text';

/** `--format auto|json|text` (case-insensitive; auto: text on a terminal, JSON when piped). */
export function resolveFormat(value: string | undefined): Format {
  const v = (value ?? 'auto').trim().toLowerCase();
  if (v === 'json' || v === 'text') return v;
  if (v === 'auto' || v === '') return stdoutIsTTY() ? 'text' : 'json';
  throw usage(`unknown --format ${JSON.stringify(value)}; expected json, text, or auto`);
}

// C0/C1 controls, DEL, line separators and bidi overrides.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Printable form of untrusted text. */
export function safe(s: string): string {
  return s.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** `2026-05-14 14:00:00` in the local time zone; the stored text when it is not a time. */
export function localTime(ts: string): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return safe(ts);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function scalar(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(scalar).join(',')}]`;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** `key=API_KEY count=2`: fields hold names and counts, never values. */
export function fieldsText(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  return Object.keys(fields)
    .sort()
    .map((k) => `${k}=${scalar(fields[k])}`)
    .join(' ');
}

/** Who: `parent/agent`, as the original printed it, or just one of them. */
export function whoText(row: AuditRow): string {
  const parent = row.actor.parent_comm;
  const agent = row.actor.agent_marker;
  if (parent && agent && parent !== agent) return `${parent}/${agent}`;
  return parent || agent || '-';
}

function pad(s: string, width: number): string {
  return s.length >= width ? s : s + ' '.repeat(width - s.length);
}

export interface TextStyle {
  colour: boolean;
}

export function textStyle(env: NodeJS.ProcessEnv): TextStyle {
  return { colour: useColor(1, env) };
}

const OUTCOME_COLOUR = { ok: 'green', denied: 'yellow', error: 'red' } as const;

/**
 * One event per line: time, seq, event, outcome, app/env, who, tty, fields. Widths are
 * fixed minimums rather than measured, so a stream of a million rows aligns without
 * being held in memory.
 */
export function textRow(row: AuditRow, style: TextStyle): string {
  const c = style.colour;
  const place = [row.app, row.env].filter(Boolean).join('/') || '-';
  const tty = row.actor.tty ? row.actor.tty.replace(/^\/dev\//, '') : '-';
  const outcome = row.outcome ?? '-';
  const colour = OUTCOME_COLOUR[outcome as keyof typeof OUTCOME_COLOUR];
  const cols = [
    localTime(row.ts),
    paint(c, 'gray', String(row.seq).padStart(6)),
    paint(c, 'bold', pad(safe(row.event), 14)),
    colour ? paint(c, colour, pad(outcome, 6)) : pad(outcome, 6),
    pad(safe(place), 14),
    pad(safe(whoText(row)), 16),
    pad(safe(tty), 7),
    safe(fieldsText(row.fields)),
  ];
  return cols.join('  ').trimEnd();
}

// Wide enough for the longest label (actor.agent_session:) and a space.
function line(label: string, value: string): string {
  return `${pad(`${label}:`, 21)}${value}`;
}

/** `audit show` in text: one labelled line per field. */
export function showText(row: AuditRow, style: TextStyle): string {
  const a = row.actor;
  const out = [
    line('seq', String(row.seq)),
    line('ts', `${safe(row.ts)} (${localTime(row.ts)} local)`),
    line('event', paint(style.colour, 'bold', safe(row.event))),
    line('outcome', row.outcome ?? '-'),
    line('app', safe(row.app ?? '')),
    line('env', safe(row.env ?? '')),
    line('schema_version', String(row.schema_version)),
    line('local_only', String(!!row.local_only)),
    line('actor.pid', a.pid === undefined ? '-' : String(a.pid)),
    line('actor.ppid', String(a.ppid)),
    line('actor.parent_comm', safe(a.parent_comm)),
    line('actor.tty', safe(a.tty)),
    line('actor.cwd', safe(a.cwd)),
    line('actor.uid', String(a.uid)),
    line('actor.agent_marker', safe(a.agent_marker)),
  ];
  if (a.agent_source) out.push(line('actor.agent_source', safe(a.agent_source)));
  if (a.agent_session) out.push(line('actor.agent_session', safe(a.agent_session)));
  if (a.agent_vars?.length) out.push(line('actor.agent_vars', safe(a.agent_vars.join(' '))));
  if (a.ancestry?.length) {
    out.push(line('actor.ancestry', ''));
    for (const p of a.ancestry) out.push(`  ${safe(p.comm)} (pid ${p.pid}${p.start ? `, started ${safe(p.start)}` : ''})`);
  }
  if (row.fields && Object.keys(row.fields).length > 0) {
    out.push(line('fields', ''));
    for (const l of JSON.stringify(row.fields, null, 2).split('\n')) out.push(`  ${safe(l)}`);
  }
  out.push(line('prev', safe(row.prev)), line('hash', safe(row.hash)));
  if (row.seal !== undefined) out.push(line('seal', safe(row.seal)));
  return out.join('\n');
}
