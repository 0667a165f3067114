import { closeSync, fstatSync, lstatSync, openSync, readdirSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { join, sep } from 'node:path';
import { LsmError } from '../errors.js';
import type { Platform } from '../platform.js';

/**
 * The Landlock ruleset of `lsm shield`. Landlock only allows: every right the ruleset
 * handles is denied except beneath the files and directories a rule names, and a rule
 * is attached to an inode (it follows a rename; a new name for the inode does not
 * change it). To deny a few paths and leave everything else as it was, the rules walk
 * the tree from / down to each protected path and allow, on every directory passed,
 * each entry that does not lead to a protected one. What the walk cannot give back is
 * said in docs/shield.md: an entry created later directly in a directory on the way to
 * the lsm home (a new file in ~) is not covered by any rule.
 */
const A = {
  WRITE_FILE: 1n << 1n,
  READ_FILE: 1n << 2n,
  REMOVE_DIR: 1n << 4n,
  REMOVE_FILE: 1n << 5n,
  MAKE_CHAR: 1n << 6n,
  MAKE_DIR: 1n << 7n,
  MAKE_REG: 1n << 8n,
  MAKE_SOCK: 1n << 9n,
  MAKE_FIFO: 1n << 10n,
  MAKE_BLOCK: 1n << 11n,
  MAKE_SYM: 1n << 12n,
  REFER: 1n << 13n,
  TRUNCATE: 1n << 14n,
};
/** ABI 3 brings TRUNCATE: below it, truncate(2) of audit.jsonl would be a right Landlock cannot deny. */
export const MIN_ABI = 3;
/**
 * The rights handled: reading, writing, truncating, creating, removing, renaming and
 * linking. Listing a directory, executing and device ioctls are left alone (never
 * denied): a name is not a secret, and denying them would need the same walk for
 * nothing.
 */
export const HANDLED = Object.values(A).reduce((a, b) => a | b, 0n);
/** The rights a rule on a file (not a directory) may carry. */
const FILE_RIGHTS = A.WRITE_FILE | A.READ_FILE | A.TRUNCATE;
/** A directory on the way to a protected FILE only (a project's .env): all but reading (reads of new files there are lost). */
const TOWARD_FILE = HANDLED & ~A.READ_FILE;
/** ABI 6: the command cannot signal processes outside its domain nor reach their abstract Unix sockets. */
export const SCOPES = (1n << 0n) | (1n << 1n);

const O_PATH = 0o10000000;
const O_NOFOLLOW = 0o400000;
const O_CLOEXEC = 0o2000000;

interface Node {
  children: Map<string, Node>;
  /** The protected path itself: no rule here or beneath. */
  protect: boolean;
  /** On the way to the lsm home (or it): nothing may be granted on the directory itself. */
  towardHome: boolean;
}

export interface Protected {
  /** The lsm homes (the shielded one, and any other the user's environment names), real paths. */
  homes: string[];
  /** Files under the cwd: .env, .env.*, *.age (real paths). */
  files: string[];
}

export interface RulesResult {
  ruleset: number;
  rules: number;
  skipped: number;
}

function node(): Node {
  return { children: new Map(), protect: false, towardHome: false };
}

function parts(path: string): string[] {
  return path.split(sep).filter(Boolean);
}

/** Builds the ruleset (its fd, for the restricting thread) for these protected paths. */
export function buildRuleset(platform: Platform, abi: number, prot: Protected): RulesResult {
  const root = node();
  const add = (path: string, home: boolean) => {
    let n = root;
    if (home) n.towardHome = true;
    for (const p of parts(path)) {
      let c = n.children.get(p);
      if (!c) n.children.set(p, (c = node()));
      n = c;
      if (home) n.towardHome = true;
    }
    n.protect = true;
  };
  for (const h of prot.homes) add(h, true);
  for (const f of prot.files) add(f, false);
  const inodes = protectedInodes(prot);

  const ruleset = platform.landlockRuleset(HANDLED, abi >= 6 ? SCOPES : 0n);
  if (ruleset < 0) throw new LsmError('platform', 'the kernel refused to create a Landlock ruleset', { exit: REFUSED });
  let rules = 0;
  let skipped = 0;
  // Every entry beside the way to a protected path gets a rule: a hundred and more in a
  // home directory, so each costs as few calls as it can.
  const allow = (path: string, access: bigint, dir?: boolean) => {
    let fd: number;
    try {
      fd = openSync(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    } catch {
      skipped++;
      return;
    }
    try {
      // The entry's type as the directory listed it, unless an inode must be compared: if it
      // was replaced since, a directory's rights on a file are refused and a file's on a
      // directory are narrower, never wider.
      let isDir = dir;
      if (isDir === undefined || inodes.linked) {
        const st = fstatSync(fd);
        // Another name of a protected file (a hard link made before the shield) gets no rule.
        if (!st.isDirectory() && inodes.set.has(`${st.dev}:${st.ino}`)) return;
        isDir = st.isDirectory();
      }
      if (platform.landlockAllow(ruleset, fd, isDir ? access : access & FILE_RIGHTS)) rules++;
      else skipped++;
    } finally {
      closeSync(fd);
    }
  };
  const walk = (dir: string, n: Node) => {
    if (!n.towardHome) allow(dir, TOWARD_FILE);
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      skipped++;
      return;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      const c = n.children.get(e.name);
      if (c?.protect) continue;
      if (c) walk(path, c);
      // A symbolic link gets no rule: the path it leads to is judged where it ends.
      else if (!e.isSymbolicLink()) allow(path, HANDLED, e.isDirectory() ? true : e.isFile() ? false : undefined);
    }
  };
  walk('/', root);
  return { ruleset, rules, skipped };
}

/** A directory's entries; none when it cannot be read (what cannot be listed is not walked). */
function entriesOf(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

/** Landlock cannot be used: a refusal, never an unprotected run. */
export const REFUSED = 126;

/** The protected files' inodes; `linked`: one of them has another name, somewhere. */
function protectedInodes(prot: Protected): { set: Set<string>; linked: boolean } {
  const set = new Set<string>();
  let linked = false;
  const files: string[] = [...prot.files];
  const scan = (dir: string, depth: number) => {
    for (const e of entriesOf(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory() && depth > 0) scan(p, depth - 1);
      else if (e.isFile()) files.push(p);
    }
  };
  for (const h of prot.homes) scan(h, 3);
  for (const f of files) {
    let st;
    try {
      st = lstatSync(f);
    } catch {
      continue;
    }
    set.add(`${st.dev}:${st.ino}`);
    if (st.nlink > 1) linked = true;
    // A second name somewhere else would be read there, with that directory's rights.
    if (st.nlink > 1 && prot.homes.some((h) => f.startsWith(h + sep))) {
      throw new LsmError('platform', `${f} has ${st.nlink} names (hard links): another name outside the lsm home would stay readable in the shield`, {
        exit: REFUSED,
        hint: `find it with 'find / -xdev -samefile ${f}' and remove the other name`,
      });
    }
  }
  return { set, linked };
}

/** The cwd's files protected by default (skipping node_modules and .git), at most `depth` levels deep. */
export function envFilesUnder(cwd: string, allowed: Set<string>, depth = 4, maxDirs = 2000): { files: string[]; truncated: boolean } {
  const files: string[] = [];
  let dirs = 0;
  let truncated = false;
  const visit = (dir: string, d: number) => {
    if (++dirs > maxDirs) {
      truncated = true;
      return;
    }
    for (const e of entriesOf(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (d > 0 && e.name !== 'node_modules' && e.name !== '.git') visit(p, d - 1);
      } else if (isSecretFile(e.name) && (e.isFile() || e.isSymbolicLink())) {
        // A .env that is a link to a file elsewhere protects that file: rules are on what a path reaches.
        const target = e.isSymbolicLink() ? linkedFile(p) : p;
        if (target && !allowed.has(p) && !allowed.has(target)) files.push(target);
      }
    }
  };
  visit(cwd, depth);
  return { files, truncated };
}

function linkedFile(path: string): string | undefined {
  try {
    const r = realpathSync(path);
    return statSync(r).isFile() ? r : undefined;
  } catch {
    return undefined;
  }
}

/** .env, .env.* (but not the templates .env.example, .sample, .template) and *.age. */
export function isSecretFile(name: string): boolean {
  if (name.endsWith('.age')) return true;
  if (name === '.env') return true;
  if (!name.startsWith('.env.')) return false;
  return !/\.(example|sample|template|dist)$/.test(name);
}

export function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

