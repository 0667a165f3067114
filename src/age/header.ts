import { Buffer } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { hkdf32 } from './hkdf.js';
import { decodeUnpadded, encodeUnpadded } from './base64.js';
import { AgeError } from './error.js';

export interface Stanza {
  // args[0] is the stanza type.
  args: string[];
  body: Uint8Array;
}

export interface Header {
  stanzas: Stanza[];
  macInput: Uint8Array; // up to and including "---": what the MAC covers
  mac: Uint8Array;
  payloadStart: number;
}

const VERSION_PREFIX = 'age-encryption.org/';
const VERSION_LINE = 'age-encryption.org/v1';
const COLUMNS = 64;
const BYTES_PER_LINE = 48;
const VCHARS = /^[\x21-\x7e]+$/;

const headerError = (why: string) => new AgeError('header', `invalid header: ${why}`);

class Lines {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  next(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) throw new AgeError('truncated', 'file ends inside the header');
    const line = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.pos, end - this.pos).toString('latin1');
    this.pos = end + 1;
    return line;
  }
}

function parseStanza(argLine: string, lines: Lines): Stanza {
  const args = argLine.slice(3).split(' ');
  if (!args.every((a) => VCHARS.test(a))) throw headerError('malformed stanza arguments');
  const chunks: Uint8Array[] = [];
  // The body ends at the first line shorter than 64 columns, which may be empty.
  for (;;) {
    const line = lines.next();
    if (line.length > COLUMNS) throw headerError('stanza body line too long');
    const chunk = decodeUnpadded(line);
    if (chunk === undefined) throw headerError('stanza body is not canonical base64');
    chunks.push(chunk);
    if (line.length < COLUMNS) break;
  }
  return { args, body: Buffer.concat(chunks) };
}

// The MAC can only be checked once a stanza yields the file key: see verifyMac.
export function parseHeader(file: Uint8Array): Header {
  const lines = new Lines(file);
  const version = lines.next();
  if (version !== VERSION_LINE) {
    if (version.startsWith(VERSION_PREFIX) && VCHARS.test(version)) {
      throw new AgeError('unsupported', 'unsupported age format version');
    }
    throw headerError('bad version line');
  }
  const stanzas: Stanza[] = [];
  for (;;) {
    const start = lines.pos;
    const line = lines.next();
    if (line.startsWith('-> ')) {
      stanzas.push(parseStanza(line, lines));
    } else if (line.startsWith('--- ')) {
      const mac = decodeUnpadded(line.slice(4));
      if (mac?.length !== 32) throw headerError('malformed MAC');
      if (stanzas.length === 0) throw headerError('no recipient stanzas');
      return { stanzas, macInput: file.subarray(0, start + 3), mac, payloadStart: lines.pos };
    } else {
      throw headerError('unexpected line');
    }
  }
}

function macKey(fileKey: Uint8Array): Uint8Array {
  return hkdf32(fileKey, new Uint8Array(0), 'header');
}

function computeMac(fileKey: Uint8Array, macInput: Uint8Array): Buffer {
  return createHmac('sha256', macKey(fileKey)).update(macInput).digest();
}

export function verifyMac(fileKey: Uint8Array, header: Header): void {
  if (!timingSafeEqual(computeMac(fileKey, header.macInput), header.mac)) {
    throw new AgeError('header', 'header MAC mismatch: the file was modified');
  }
}

export function encodeHeader(fileKey: Uint8Array, stanzas: Stanza[]): Uint8Array {
  let text = VERSION_LINE + '\n';
  for (const { args, body } of stanzas) {
    text += `-> ${args.join(' ')}\n`;
    // A body that fills its last line needs an empty line to terminate it.
    for (let i = 0; i <= body.length; i += BYTES_PER_LINE) {
      text += encodeUnpadded(body.subarray(i, i + BYTES_PER_LINE)) + '\n';
    }
  }
  text += '---';
  const macInput = Buffer.from(text, 'latin1');
  return Buffer.concat([macInput, Buffer.from(` ${encodeUnpadded(computeMac(fileKey, macInput))}\n`, 'latin1')]);
}
