import { writeSync } from 'node:fs';
import { LsmError } from '../errors.js';
import type { Platform } from '../platform.js';
import { STUB_IMAGES } from './stub-image.js';

/**
 * Why lsm shield execs a stub of its own (src/shield/stub/*.s) between itself and the
 * command. no_new_privs and a Landlock domain belong to the thread that sets them, and
 * a process forked from that thread inherits them. The shield's own process must stay
 * outside the domain, since it is the subreaper that keeps every shielded process in
 * its ancestry, where the keeper looks, and the command must not be able to kill it.
 * A thread of that process that had restricted itself to fork the command would share
 * the command's domain, so the command could signal it, and a SIGKILL to one thread
 * kills the whole process (seen: `kill -9 TID` from inside the shield took it down).
 * Node cannot run code in a forked child (V8's heap is not copied into it), so the
 * child execs this stub, which restricts itself and execs the command: no thread of
 * the shield ever enters the sandbox, and nothing runs unrestricted in the child but
 * the stub's instructions.
 *
 * The stub runs from a memfd: no file on disk that a process could replace.
 */
export function stubImage(arch: string): Buffer {
  const b64 = STUB_IMAGES[arch];
  if (!b64) throw new LsmError('platform', `lsm shield has no exec stub for ${arch}`, { exit: 126, hint: 'lsm shield runs on Linux x64 and arm64' });
  return Buffer.from(b64, 'base64');
}

/** The stub in a close-on-exec memfd, ready to be given to the child and run as /proc/self/fd/N. */
export function stubFd(platform: Platform): number {
  const image = stubImage(process.arch);
  const fd = platform.memfd('lsm-shield-stub');
  if (fd < 0) throw new LsmError('platform', 'lsm shield could not create its exec stub (memfd_create was refused); the command was not run', { exit: 126, hint: 'Linux 3.17 or later is needed' });
  let off = 0;
  while (off < image.length) off += writeSync(fd, image, off, image.length - off);
  return fd;
}
