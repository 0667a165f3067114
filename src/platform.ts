import { closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LsmError } from './errors.js';

/**
 * The OS calls Node has no API for (non-dumpable, core limit, mlock, peer credentials,
 * pidfds), for the keeper. Loaded lazily: nothing on the plain get path imports it.
 * Under Node the calls go through koffi (a prebuilt FFI, required from node_modules at
 * run time); under the native executable through bun:ffi, since koffi loads its platform
 * package dynamically and a compiled executable does not carry it.
 *
 * Return codes are trusted, errno never: a second FFI call to read errno may see a value
 * that the runtime's own calls in between have overwritten.
 *
 * Linux: x64 and arm64 (the struct layouts and SO_* numbers below are those of the
 * generic ABI; mips, powerpc, sparc and parisc number them differently).
 * macOS: written to the documented interfaces but NOT run or tested here (no macOS
 * machine): see the notes at each call.
 */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
  /** A pidfd for the peer (Linux >= 6.5, SO_PEERPIDFD), owned by the caller: close it with closeFd. */
  pidfd?: number;
}

export interface Platform {
  os: 'linux' | 'darwin';
  /** Which FFI the calls go through. */
  ffi: 'koffi' | 'bun:ffi';
  /** prctl(PR_SET_DUMPABLE,0) (macOS: ptrace(PT_DENY_ATTACH)), setrlimit(RLIMIT_CORE,0); returns the read-back. */
  harden(): { dumpable: boolean; coreLimit: number };
  /**
   * prctl(PR_SET_DUMPABLE,0) alone, for a process whose children must keep their core
   * limit (the masking lsm exec): true when the read-back says not dumpable.
   */
  undumpable(): boolean;
  /** prctl(PR_GET_DUMPABLE) read-back (macOS: false only once PT_DENY_ATTACH succeeded). */
  dumpable(): boolean;
  /** Locks one key buffer in RAM (never swapped); false when refused (RLIMIT_MEMLOCK). */
  mlock(buf: Buffer): boolean;
  /**
   * The peer of a connected Unix socket. Call synchronously inside net.Server's
   * 'connection' callback (fd = (socket as any)._handle.fd): later, Node may already have
   * closed the handle. Linux: SO_PEERCRED (pid/uid/gid as of connect()) and SO_PEERPIDFD
   * (pidfd undefined when the kernel does not have it). macOS: getpeereid and LOCAL_PEERPID.
   * undefined when the kernel refused.
   */
  peer(fd: number): PeerCred | undefined;
  /** The pid a pidfd refers to, from /proc/self/fdinfo/FD ("Pid:"); -1 once that process is gone (or unreadable). */
  pidfdPid(pidfd: number): number;
  closeFd(fd: number): void;
  uid(): number;
  /**
   * The Landlock ABI version the kernel offers (landlock_create_ruleset with
   * LANDLOCK_CREATE_RULESET_VERSION), 0 where there is none (an old kernel, Landlock not
   * in the LSM list, macOS). `lsm shield` refuses to run below the version it needs.
   */
  landlockAbi(): number;
  /** A ruleset handling these filesystem rights and scopes (ABI 6+); its fd, -1 when refused. */
  landlockRuleset(handledFs: bigint, scoped: bigint): number;
  /** Allows `access` beneath the file or directory open as `fd` (O_PATH is enough); false when refused. */
  landlockAllow(ruleset: number, fd: number, access: bigint): boolean;
  /** prctl(PR_SET_CHILD_SUBREAPER): orphans of descendants reparent to this process, not to init. */
  subreaper(): boolean;
  /** memfd_create (close-on-exec): an anonymous file, which can be run through /proc/self/fd; -1 when refused. */
  memfd(name: string): number;
  /** Reaps the children that have ended (waitpid WNOHANG); false once none is left, running or not. */
  hasChildren(): boolean;
  /** Reaps the children that have ended but `keep`, whose status its own watcher collects (it stops there). */
  reapExcept(keep: number): void;
}

/** /proc/sys/kernel/yama/ptrace_scope (0-3), undefined when Yama is not built in. */
export function ptraceScope(): number | undefined {
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/kernel/yama/ptrace_scope', 'utf8').trim(), 10);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

// The calls, bound by either FFI. Buffers are passed as pointers to their bytes.
interface Libc {
  /** Linux only. */
  prctl(option: number, arg2: number): number;
  /** macOS only: ptrace(request, pid, addr, data). */
  ptrace(request: number, pid: number): number;
  /** macOS only: getpeereid(fd, uid_t*, gid_t*). */
  getpeereid(fd: number, uid: Buffer, gid: Buffer): number;
  setrlimit(resource: number, rlim: Buffer): number;
  getrlimit(resource: number, rlim: Buffer): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  mlock(addr: Buffer, len: number): number;
  /** Linux only: syscall(nr, a, b, c), pointers passed as Buffers (or null). */
  syscall(nr: number, a: Buffer | number | null, b: Buffer | number | null, c: Buffer | number | null, d?: number): number;
  /**
   * Linux only: landlock_add_rule(ruleset, type, attr, 0) through a fixed-arity syscall():
   * the shield adds one rule per entry beside the path to the home (a hundred and more), and
   * koffi builds a variadic call anew each time.
   */
  addRule(ruleset: number, type: number, attr: Buffer): number;
  waitpid(pid: number, status: Buffer | null, options: number): number;
  /** waitid(idtype, id, siginfo_t*, options). */
  waitid(idtype: number, id: number, info: Buffer, options: number): number;
}

const LINUX = {
  PR_GET_DUMPABLE: 3,
  PR_SET_DUMPABLE: 4,
  RLIMIT_CORE: 4,
  SOL_SOCKET: 1,
  SO_PEERCRED: 17,
  SO_PEERPIDFD: 77,
  PR_SET_CHILD_SUBREAPER: 36,
  // x86-64 and arm64 share the generic syscall numbers for Landlock.
  SYS_landlock_create_ruleset: 444,
  SYS_landlock_add_rule: 445,
  LANDLOCK_CREATE_RULESET_VERSION: 1,
  LANDLOCK_RULE_PATH_BENEATH: 1,
  // memfd_create is one of the few calls numbered apart on the two.
  SYS_memfd_create: process.arch === 'arm64' ? 279 : 319,
  MFD_CLOEXEC: 1,
  MFD_EXEC: 0x10,
};
const DARWIN = {
  PT_DENY_ATTACH: 31,
  RLIMIT_CORE: 4,
  SOL_LOCAL: 0,
  LOCAL_PEERPID: 0x002,
};

const LIBC = { linux: 'libc.so.6', darwin: '/usr/lib/libSystem.B.dylib' } as const;

type Os = keyof typeof LIBC;

/**
 * koffi, required by the file its package names for require: Node 20 resolving the bare
 * name through the package's "exports" map costs about 2 ms (URL arithmetic), a tenth of
 * what `lsm shield` adds to its command's start. Anything unusual (no CommonJS require
 * here, another layout) goes through the name.
 */
function requireKoffi(): unknown {
  const paths = typeof module === 'object' && module !== null && Array.isArray(module.paths) ? module.paths : [];
  if (typeof require !== 'function') return undefined;
  for (const dir of paths) {
    let text: string;
    try {
      text = readFileSync(join(dir, 'koffi', 'package.json'), 'utf8');
    } catch {
      continue;
    }
    try {
      const target = (JSON.parse(text) as { exports?: { '.'?: { require?: unknown } } }).exports?.['.']?.require;
      return typeof target === 'string' ? require(join(dir, 'koffi', target)) : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

async function bindKoffi(os: Os): Promise<Libc> {
  const mod = (requireKoffi() ?? await import('koffi')) as typeof import('koffi') & { default?: typeof import('koffi') };
  const koffi = mod.default ?? mod;
  const lib = koffi.load(LIBC[os]);
  const absent = (name: string) => () => {
    throw new Error(`${name} is not available on ${os}`);
  };
  // prctl is variadic: koffi passes the extra arguments with the variadic convention.
  const prctl = os === 'linux' ? lib.func('int prctl(int option, ...)') : undefined;
  const ptrace = os === 'darwin' ? lib.func('int ptrace(int request, int pid, void *addr, int data)') : undefined;
  const getpeereid = os === 'darwin' ? lib.func('int getpeereid(int fd, void *uid, void *gid)') : undefined;
  const setrlimit = lib.func('int setrlimit(int resource, void *rlim)');
  const getrlimit = lib.func('int getrlimit(int resource, void *rlim)');
  const getsockopt = lib.func('int getsockopt(int fd, int level, int name, void *value, void *len)');
  const mlock = lib.func('int mlock(void *addr, size_t len)');
  const waitpid = lib.func('int waitpid(int pid, void *status, int options)');
  const waitid = lib.func('int waitid(int idtype, int id, void *info, int options)');
  const syscall = os === 'linux' ? lib.func('long syscall(long nr, ...)') : undefined;
  // x86-64 and arm64 Linux pass these as the variadic call would (in integer registers).
  const addRule = os === 'linux' ? lib.func('long syscall(long nr, long ruleset, long type, void *attr, long flags)') : undefined;
  const UL = 'unsigned long';
  // Each variadic argument is passed as a pointer (a Buffer or null) or an unsigned long.
  const vararg = (v: Buffer | number | null) => (typeof v === 'number' ? [UL, v] : ['void *', v]);
  return {
    prctl: prctl ? (option, arg2) => prctl(option, UL, arg2, UL, 0, UL, 0, UL, 0) as number : absent('prctl'),
    ptrace: ptrace ? (request, pid) => ptrace(request, pid, null, 0) as number : absent('ptrace'),
    getpeereid: getpeereid ? (fd, uid, gid) => getpeereid(fd, uid, gid) as number : absent('getpeereid'),
    setrlimit: (r, b) => setrlimit(r, b) as number,
    getrlimit: (r, b) => getrlimit(r, b) as number,
    getsockopt: (fd, level, name, value, len) => getsockopt(fd, level, name, value, len) as number,
    mlock: (addr, len) => mlock(addr, len) as number,
    waitpid: (pid, status, options) => waitpid(pid, status, options) as number,
    waitid: (idtype, id, info, options) => waitid(idtype, id, info, options) as number,
    syscall: syscall
      ? (nr, a, b, c, d = 0) => Number(syscall(nr, ...vararg(a), ...vararg(b), ...vararg(c), UL, d))
      : absent('syscall'),
    addRule: addRule ? (ruleset, type, attr) => Number(addRule(LINUX.SYS_landlock_add_rule, ruleset, type, attr, 0)) : absent('syscall'),
  };
}

// bun:ffi has no variadic calls: prctl is declared with five fixed integer arguments,
// which x86-64 and arm64 Linux pass exactly as the variadic ones (in registers).
async function bindBun(os: Os): Promise<Libc> {
  const ffi = (await import('bun:ffi' as string)) as {
    dlopen(path: string, symbols: Record<string, { args: string[]; returns: string }>): { symbols: Record<string, (...a: unknown[]) => number> };
    ptr(buf: Buffer): number;
  };
  type Sig = { args: string[]; returns: string };
  const common: Record<string, Sig> = {
    setrlimit: { args: ['i32', 'ptr'], returns: 'i32' },
    getrlimit: { args: ['i32', 'ptr'], returns: 'i32' },
    getsockopt: { args: ['i32', 'i32', 'i32', 'ptr', 'ptr'], returns: 'i32' },
    mlock: { args: ['ptr', 'u64'], returns: 'i32' },
    waitpid: { args: ['i32', 'ptr', 'i32'], returns: 'i32' },
    waitid: { args: ['i32', 'i32', 'ptr', 'i32'], returns: 'i32' },
  };
  const specific: Record<string, Sig> = os === 'linux'
    ? { prctl: { args: ['i32', 'u64', 'u64', 'u64', 'u64'], returns: 'i32' }, syscall: { args: ['i64', 'u64', 'u64', 'u64', 'u64'], returns: 'i64' } }
    : { ptrace: { args: ['i32', 'i32', 'ptr', 'i32'], returns: 'i32' }, getpeereid: { args: ['i32', 'ptr', 'ptr'], returns: 'i32' } };
  const { symbols: c } = ffi.dlopen(LIBC[os], { ...common, ...specific });
  const absent = (name: string) => () => {
    throw new Error(`${name} is not available on ${os}`);
  };
  return {
    prctl: c.prctl ? (option, arg2) => c.prctl!(option, arg2, 0, 0, 0) : absent('prctl'),
    ptrace: c.ptrace ? (request, pid) => c.ptrace!(request, pid, null, 0) : absent('ptrace'),
    getpeereid: c.getpeereid ? (fd, uid, gid) => c.getpeereid!(fd, uid, gid) : absent('getpeereid'),
    setrlimit: (r, b) => c.setrlimit!(r, b),
    getrlimit: (r, b) => c.getrlimit!(r, b),
    getsockopt: (fd, level, name, value, len) => c.getsockopt!(fd, level, name, value, len),
    mlock: (addr, len) => c.mlock!(addr, len),
    waitpid: (pid, status, options) => c.waitpid!(pid, status, options),
    waitid: (idtype, id, info, options) => c.waitid!(idtype, id, info, options),
    // Pointers as addresses in integer registers, as the variadic call passes them (untested: no Bun here).
    syscall: c.syscall
      ? (nr, a, b, c3, d = 0) => {
        const arg = (v: Buffer | number | null) => (v === null ? 0 : typeof v === 'number' ? v : ffi.ptr(v));
        return Number(c.syscall!(nr, arg(a), arg(b), arg(c3), d));
      }
      : absent('syscall'),
    addRule: c.syscall ? (ruleset, type, attr) => Number(c.syscall!(LINUX.SYS_landlock_add_rule, ruleset, type, ffi.ptr(attr), 0)) : absent('syscall'),
  };
}

// struct rlimit is two rlim_t (64-bit on both systems).
function setCoreZero(libc: Libc, resource: number): void {
  libc.setrlimit(resource, Buffer.alloc(16));
}

function coreLimit(libc: Libc, resource: number): number {
  const rl = Buffer.alloc(16);
  if (libc.getrlimit(resource, rl) !== 0) return -1;
  const cur = rl.readBigUInt64LE(0);
  // RLIM_INFINITY (all ones) and anything past 2^53 read as Infinity rather than a wrong number.
  return cur > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(cur);
}

function getInt(libc: Libc, fd: number, level: number, name: number): number | undefined {
  const value = Buffer.alloc(4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(4);
  if (libc.getsockopt(fd, level, name, value, len) !== 0 || len.readUInt32LE(0) !== 4) return undefined;
  return value.readInt32LE(0);
}

function reapChildren(libc: Libc): boolean {
  // WNOHANG (1): 0 while a child runs, its pid for one that ended (reaped now), -1 (ECHILD) for none.
  for (let i = 0; i < 4096; i++) {
    const r = libc.waitpid(-1, null, 1);
    if (r === 0) return true;
    if (r < 0) return false;
  }
  return true;
}

function reapExcept(libc: Libc, keep: number): void {
  // waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT) names an ended child without reaping it
  // (si_pid at byte 16 of siginfo_t on x86-64 and arm64; 0 when none has ended).
  const info = Buffer.alloc(128);
  for (let i = 0; i < 4096; i++) {
    info.fill(0);
    if (libc.waitid(0, 0, info, 4 | 1 | 0x01000000) !== 0) return;
    const pid = info.readInt32LE(16);
    if (pid <= 0 || pid === keep) return;
    libc.waitpid(pid, null, 1);
  }
}

function pidfdPid(pidfd: number): number {
  try {
    const m = /^Pid:\s*(-?\d+)\s*$/m.exec(readFileSync(`/proc/self/fdinfo/${pidfd}`, 'utf8'));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

function linux(libc: Libc, ffi: Platform['ffi']): Platform {
  // One rule at a time, each copied by the kernel at the call: one buffer for them all.
  const ruleAttr = Buffer.alloc(12);
  // PR_GET_DUMPABLE returns 0, 1 or 2 (suid_dumpable); -1 (failure) counts as dumpable.
  const dumpable = () => libc.prctl(LINUX.PR_GET_DUMPABLE, 0) !== 0;
  return {
    os: 'linux',
    ffi,
    harden() {
      // The flag also makes /proc/PID/{environ,mem,fd} root-owned and refuses ptrace
      // attach by the same user; execve resets it, so the process sets it itself.
      libc.prctl(LINUX.PR_SET_DUMPABLE, 0);
      setCoreZero(libc, LINUX.RLIMIT_CORE);
      return { dumpable: dumpable(), coreLimit: coreLimit(libc, LINUX.RLIMIT_CORE) };
    },
    undumpable() {
      libc.prctl(LINUX.PR_SET_DUMPABLE, 0);
      return !dumpable();
    },
    dumpable,
    mlock: (buf) => buf.length > 0 && libc.mlock(buf, buf.length) === 0,
    peer(fd) {
      // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
      const value = Buffer.alloc(12);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(12);
      if (libc.getsockopt(fd, LINUX.SOL_SOCKET, LINUX.SO_PEERCRED, value, len) !== 0 || len.readUInt32LE(0) !== 12) return undefined;
      const cred: PeerCred = { pid: value.readInt32LE(0), uid: value.readUInt32LE(4), gid: value.readUInt32LE(8) };
      const pidfd = getInt(libc, fd, LINUX.SOL_SOCKET, LINUX.SO_PEERPIDFD);
      if (pidfd !== undefined && pidfd >= 0) cred.pidfd = pidfd;
      return cred;
    },
    pidfdPid,
    closeFd: (fd) => closeSync(fd),
    uid: () => process.getuid!(),
    landlockAbi() {
      const v = libc.syscall(LINUX.SYS_landlock_create_ruleset, null, 0, LINUX.LANDLOCK_CREATE_RULESET_VERSION);
      return v > 0 ? v : 0;
    },
    landlockRuleset(handledFs, scoped) {
      // struct landlock_ruleset_attr { u64 handled_access_fs, handled_access_net, scoped }:
      // the size passed tells the kernel which fields this caller knows.
      const attr = Buffer.alloc(scoped > 0n ? 24 : 8);
      attr.writeBigUInt64LE(handledFs, 0);
      if (scoped > 0n) attr.writeBigUInt64LE(scoped, 16);
      return libc.syscall(LINUX.SYS_landlock_create_ruleset, attr, attr.length, 0);
    },
    landlockAllow(ruleset, fd, access) {
      // struct landlock_path_beneath_attr { u64 allowed_access; s32 parent_fd } __packed: 12 bytes.
      ruleAttr.writeBigUInt64LE(access, 0);
      ruleAttr.writeInt32LE(fd, 8);
      return libc.addRule(ruleset, LINUX.LANDLOCK_RULE_PATH_BENEATH, ruleAttr) === 0;
    },
    subreaper: () => libc.prctl(LINUX.PR_SET_CHILD_SUBREAPER, 1) === 0,
    memfd(name) {
      const cname = Buffer.from(`${name}\0`);
      // MFD_EXEC (Linux 6.3) asks for an executable one outright, as vm.memfd_noexec may
      // require; a kernel before it refuses the flag, and every memfd of its is executable.
      const fd = libc.syscall(LINUX.SYS_memfd_create, cname, LINUX.MFD_CLOEXEC | LINUX.MFD_EXEC, null);
      return fd >= 0 ? fd : libc.syscall(LINUX.SYS_memfd_create, cname, LINUX.MFD_CLOEXEC, null);
    },
    hasChildren: () => reapChildren(libc),
    reapExcept: (keep) => reapExcept(libc, keep),
  };
}

// macOS, untested here. What is known of its limits:
// - PT_DENY_ATTACH refuses a debugger's later attach and is a hint at best (a process
//   attached before it ran stays attached; a root or entitled debugger ignores it); there
//   is no read-back, so dumpable() only says whether the call succeeded. The real guard
//   is a hardened-runtime signature without get-task-allow, which a Node or Bun binary
//   run from a user's PATH may not have.
// - RLIMIT_CORE 0 is the same call as on Linux.
// - LOCAL_PEERPID is the pid at connect() and can be reused (no pidfd on macOS);
//   LOCAL_PEERTOKEN (the audit token) would be race-free and is not used yet.
// - The same-user /proc reads the keeper relies on on Linux do not exist; a same-user
//   process's memory is guarded only by the task-port rules above.
function darwin(libc: Libc, ffi: Platform['ffi']): Platform {
  let denied = false;
  return {
    os: 'darwin',
    ffi,
    harden() {
      denied = libc.ptrace(DARWIN.PT_DENY_ATTACH, 0) === 0;
      setCoreZero(libc, DARWIN.RLIMIT_CORE);
      return { dumpable: !denied, coreLimit: coreLimit(libc, DARWIN.RLIMIT_CORE) };
    },
    // Nothing on macOS closes a process's descriptors to its own children the way Linux's flag does.
    undumpable: () => false,
    dumpable: () => !denied,
    mlock: (buf) => buf.length > 0 && libc.mlock(buf, buf.length) === 0,
    peer(fd) {
      const uid = Buffer.alloc(4);
      const gid = Buffer.alloc(4);
      if (libc.getpeereid(fd, uid, gid) !== 0) return undefined;
      const pid = getInt(libc, fd, DARWIN.SOL_LOCAL, DARWIN.LOCAL_PEERPID);
      if (pid === undefined) return undefined;
      return { pid, uid: uid.readUInt32LE(0), gid: gid.readUInt32LE(0) };
    },
    // No pidfds on macOS: peer() never hands one out.
    pidfdPid: () => -1,
    closeFd: (fd) => closeSync(fd),
    uid: () => process.getuid!(),
    // No Landlock on macOS. sandbox-exec (Seatbelt) could deny reads of the home, but it is
    // deprecated, undocumented and untestable here: `lsm shield` refuses instead (docs/shield.md).
    landlockAbi: () => 0,
    landlockRuleset: () => -1,
    landlockAllow: () => false,
    subreaper: () => false,
    memfd: () => -1,
    hasChildren: () => reapChildren(libc),
    reapExcept: () => { /* the shield, its only user, refuses macOS */ },
  };
}

let loaded: Promise<Platform> | undefined;

/** The platform's calls, bound once; throws LsmError 'platform' where they are not available. */
export function loadPlatform(): Promise<Platform> {
  return (loaded ??= bind().catch((err: unknown) => {
    loaded = undefined;
    throw err;
  }));
}

async function bind(): Promise<Platform> {
  const os = process.platform;
  if (os !== 'linux' && os !== 'darwin') {
    throw new LsmError('platform', `the lsm keeper needs Linux or macOS; this is ${os}`, {
      hint: 'use an unprotected home on this system',
    });
  }
  if (os === 'linux' && process.arch !== 'x64' && process.arch !== 'arm64') {
    throw new LsmError('platform', `the lsm keeper supports Linux on x64 and arm64; this is ${process.arch}`, {
      hint: 'use an unprotected home on this system',
    });
  }
  const bun = typeof process.versions.bun === 'string';
  const ffi: Platform['ffi'] = bun ? 'bun:ffi' : 'koffi';
  let libc: Libc;
  try {
    libc = bun ? await bindBun(os) : await bindKoffi(os);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new LsmError('platform', `cannot load the system calls the keeper needs (${ffi}): ${why}`, {
      hint: bun ? 'the native executable could not open libc' : "koffi (a dependency of lsm) is missing or has no prebuilt binary for this platform: reinstall lsm",
      cause: err,
    });
  }
  return os === 'linux' ? linux(libc, ffi) : darwin(libc, ffi);
}
