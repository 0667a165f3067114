import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendEvent, type EventInput } from '../src/audit/log.js';
import type { Actor } from '../src/audit/event.js';
import { tempDir } from './helpers.js';

/** The two rows of the original Go lsm that every implementation must verify byte for byte. */
export const VECTOR_1 =
  '{"schema_version":1,"seq":1,"ts":"2026-05-14T12:00:00Z","event":"gh_push","app":"myapp","env":"dev","actor":{"ppid":4242,"parent_comm":"zsh","tty":"/dev/pts/3","cwd":"/home/u/myapp","agent_marker":"claude","uid":1000},"fields":{"count":2,"names":["API_KEY","DB_URL"],"repo":"acme/widget","target":"repo"},"prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"3e93d932a11efbdf892cb89fa8332107266220f802c2fd79f980844879c16dee"}';
export const VECTOR_2 =
  '{"schema_version":1,"seq":2,"ts":"2026-05-14T12:00:01.123456Z","event":"test\\u003c\\u0026\\u003e","actor":{"ppid":0,"parent_comm":"","tty":"","cwd":"","agent_marker":"","uid":0},"prev":"3e93d932a11efbdf892cb89fa8332107266220f802c2fd79f980844879c16dee","hash":"53fc203f314c8f428b30cbc6f18d98b25b5460ba8855455573bb28012e84c1d1"}';

/** A fixed actor, so rows do not depend on the machine running the tests. */
export const ACTOR: Actor = {
  ppid: 100,
  parent_comm: 'bash',
  tty: '',
  cwd: '/home/u/app',
  agent_marker: 'claude',
  uid: 1000,
  pid: 101,
  agent_source: 'env:CLAUDECODE',
  agent_session: 'sess-1',
  agent_vars: ['CLAUDECODE'],
  ancestry: [
    { pid: 100, comm: 'bash', start: '2026-05-14T11:00:00Z' },
    { pid: 90, comm: 'claude', start: '2026-05-14T10:00:00Z' },
  ],
};

/** A clock that starts at `start` and moves one second per call. */
export function clock(start = '2026-05-14T12:00:00Z'): () => Date {
  let t = Date.parse(start);
  return () => new Date((t += 1000) - 1000);
}

/** A new log path in a throwaway directory. */
export function logFile(name = 'audit.jsonl'): string {
  return join(tempDir('lsm-audit-'), name);
}

/** Appends events with the fixed actor and clock; returns the path. */
export function writeLog(path: string, events: Array<Partial<EventInput>>, now = clock()): string {
  for (const e of events) appendEvent(path, { event: 'get', ...e }, { actor: ACTOR, now });
  return path;
}

export function writeLines(path: string, lines: string[]): string {
  writeFileSync(path, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
  return path;
}
