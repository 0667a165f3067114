/**
 * The one error type of lsm. Every failure a user can meet is an LsmError with a
 * message they can act on; the CLI prints `lsm: <message>` and the hint on stderr and
 * exits with `exit`. Messages never carry a secret value: build them from names only.
 */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  /** `audit suspicious --fail-on-match` found something. */
  flagged: 3,
  /** The egress policy refused a plaintext read. */
  denied: 4,
  /** The home is protected (key.age) and no unlocked keeper holds its key: `lsm unlock`. */
  locked: 5,
  /** `exec`: the command could not be found. */
  notFound: 127,
} as const;

export type ErrorCode =
  | 'usage'
  | 'invalid_name'
  | 'no_app'
  | 'no_env'
  | 'not_found'
  | 'key_missing'
  | 'key_perms'
  | 'key_invalid'
  | 'decrypt'
  | 'config'
  | 'io'
  | 'audit'
  | 'locked'
  | 'keeper_locked'
  | 'platform'
  | 'denied'
  | 'exists'
  | 'parse'
  | 'exec'
  | 'bad_passphrase'
  | 'approval_denied'
  | 'approval_timeout'
  | 'approval_unavailable'
  | 'internal';

export class LsmError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly exit: number;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; exit?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'LsmError';
    this.code = code;
    this.hint = opts.hint;
    this.exit = opts.exit ?? (code === 'usage' || code === 'invalid_name' ? EXIT.usage : EXIT.failure);
  }
}

export function usage(message: string, hint?: string): LsmError {
  return new LsmError('usage', message, { hint });
}

/** A Node system error code (ENOENT, EACCES...) or undefined. */
export function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** Turns an fs failure into an LsmError that names the file and what to check. */
export function ioError(action: string, path: string, err: unknown): LsmError {
  const code = errno(err);
  const why =
    code === 'ENOENT' ? 'no such file or directory'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ENOSPC' ? 'no space left on device'
    : code === 'EROFS' ? 'read-only file system'
    : code === 'EISDIR' ? 'is a directory'
    : code === 'ENOTREG' ? 'not a regular file'
    : code === 'ENOTDIR' ? 'a parent is not a directory'
    : code === 'EDQUOT' ? 'disk quota exceeded'
    : code === 'EFBIG' ? 'file too large (a file size limit)'
    : code ?? (err instanceof Error ? err.message : String(err));
  return new LsmError('io', `cannot ${action} ${path}: ${why}`, { cause: err });
}
