import { writeSync } from 'node:fs';
import { errno, ioError } from '../errors.js';
import { isTerminal } from './tty.js';

/**
 * stdout and stderr as plain synchronous writes to the file descriptor. Creating
 * process.stdout for a pipe loads node:net and the stream machinery, several ms that
 * `$(lsm get KEY)` would pay on every call; a command writes a few lines at most.
 */
export class Output {
  readonly fd: number;
  private tty: boolean | undefined;

  constructor(fd: number) {
    this.fd = fd;
  }

  get isTTY(): boolean {
    this.tty ??= isTerminal(this.fd);
    return this.tty;
  }

  get columns(): number {
    return this.isTTY ? process.stdout.columns ?? 80 : 80;
  }

  write(chunk: string | Uint8Array): boolean {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (err) {
        // A non-blocking pipe whose reader is slow: wait for room rather than drop output.
        if (errno(err) === 'EAGAIN') {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
          continue;
        }
        // The reader went away (`lsm ... | head`): nothing more can be said there.
        if (errno(err) === 'EPIPE') return false;
        // /dev/full, a closed descriptor, a full disk under a redirect: an error to report, not a crash.
        throw ioError('write to', this.fd === 1 ? 'stdout' : this.fd === 2 ? 'stderr' : `descriptor ${this.fd}`, err);
      }
    }
    return true;
  }
}
