import { usage } from '../errors.js';
import { paint, stdoutIsTTY, useColor } from '../term/tty.js';
import { actorIdOf, howOf } from './access.js';
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

const HOW_COLOUR = { plaintext: 'yellow', masked: 'green', denied: 'red', declined: 'cyan', failed: 'red' } as const;

/** Who, in words a newcomer can read: `agent claude`, `no tty: cron`, `you: zsh`. */
export function callerText(row: AuditRow): string {
  const id = actorIdOf(row);
  if (id.kind === 'agent') return `agent ${id.agent}`;
  return `${id.kind === 'human' ? 'you' : 'no tty'}: ${id.process || '?'}`;
}

/** The event and, where the name does not say it, how: `get`, `get denied`, `exec masked`, `dump declined`. */
export function whatText(row: AuditRow): string {
  const how = howOf(row);
  if (how === 'denied' || how === 'declined') return `${row.event} ${how}`;
  if (how === 'failed') return `${row.event} error`;
  if (row.event === 'exec') return how === 'masked' ? 'exec masked' : 'exec plain';
  return row.event;
}

/** Key names first (what a person looks for), then the other fields. */
function fieldsShort(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  const keys: string[] = [];
  if (typeof fields.key === 'string') keys.push(fields.key);
  for (const l of [fields.keys, fields.names]) if (Array.isArray(l)) keys.push(...l.map(String));
  const rest = Object.keys(fields).filter((k) => k !== 'key' && k !== 'keys' && k !== 'names').sort().map((k) => `${k}=${scalar(fields[k])}`);
  return [keys.join(','), ...rest].filter(Boolean).join(' ');
}

// TIME, SEQ, WHAT, APP/ENV, CALLER; then the fields. Fixed widths, so a stream aligns.
const WIDTHS = { time: 19, seq: 6, what: 13, place: 13, caller: 17 } as const;

function cut(s: string, width: number): string {
  return s.length > width ? `${s.slice(0, Math.max(0, width - 1))}…` : s;
}

export interface RowLayout {
  /** The terminal's width: the last column is cut to fit instead of wrapping. */
  width?: number;
  /** Time of day only (a table that prints a line per day above its rows). */
  short?: boolean;
}

function prefixWidth(short: boolean): number {
  return (short ? 8 : WIDTHS.time) + 1 + WIDTHS.seq + 2 + WIDTHS.what + 2 + WIDTHS.place + 2 + WIDTHS.caller + 2;
}

/** The header line over textRow's columns. */
export function textHeader(style: TextStyle, layout: RowLayout = {}): string {
  const cols = [
    `${pad('TIME', layout.short ? 8 : WIDTHS.time)} ${'SEQ'.padStart(WIDTHS.seq)}`,
    pad('EVENT', WIDTHS.what), pad('APP/ENV', WIDTHS.place), pad('CALLER', WIDTHS.caller), 'KEYS, FIELDS',
  ];
  return paint(style.colour, 'bold', cols.join('  '));
}

/**
 * One event per line: time, seq, what (the event, and how when the name does not say
 * it: `get denied`, `exec masked`), app/env, caller (an agent, you at a terminal, or no
 * terminal, with the nearest non-shell process), key names and fields. Widths are fixed
 * rather than measured, so a stream of a million rows aligns without being held in
 * memory; with a width (a terminal) the last column is cut to fit instead of wrapping.
 */
export function textRow(row: AuditRow, style: TextStyle, layout: RowLayout = {}): string {
  const c = style.colour;
  const place = [row.app, row.env].filter(Boolean).join('/') || '-';
  const colour = HOW_COLOUR[howOf(row) as keyof typeof HOW_COLOUR];
  const what = pad(cut(safe(whatText(row)), WIDTHS.what), WIDTHS.what);
  const time = localTime(row.ts);
  let fields = safe(fieldsShort(row.fields));
  if (layout.width !== undefined) fields = cut(fields, Math.max(1, layout.width - prefixWidth(Boolean(layout.short))));
  const cols = [
    `${layout.short && time.length === 19 ? time.slice(11) : time} ${paint(c, 'gray', String(row.seq).padStart(WIDTHS.seq))}`,
    colour ? paint(c, colour, what) : paint(c, 'bold', what),
    pad(cut(safe(place), WIDTHS.place), WIDTHS.place),
    pad(cut(safe(callerText(row)), WIDTHS.caller), WIDTHS.caller),
    fields,
  ];
  return cols.join('  ').trimEnd();
}

/**
 * A table for a terminal: a header, then rows with the time of day only, under a line
 * naming the day whenever it changes (the date is printed once, not on every row).
 */
export class TextTable {
  private day = '';
  constructor(private readonly style: TextStyle, private readonly width?: number) {}

  header(): string {
    return textHeader(this.style, { short: true });
  }

  lines(row: AuditRow): string[] {
    const t = localTime(row.ts);
    const day = t.length === 19 ? t.slice(0, 10) : '';
    const out: string[] = [];
    if (day !== this.day) {
      this.day = day;
      if (day) out.push(paint(this.style.colour, 'bold', `── ${day} ${weekday(day)}`));
    }
    out.push(textRow(row, this.style, { width: this.width, short: true }));
    return out;
  }
}

function weekday(day: string): string {
  const [y, m, d] = day.split('-').map(Number);
  return ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'][new Date(y, m - 1, d).getDay()];
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
