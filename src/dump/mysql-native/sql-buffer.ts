/**
 * A growable byte buffer for building SQL text without going through JS strings for row data: values arrive as
 * raw protocol bytes (utf8mb4 text, ASCII numbers, binary), so escaping and hex work on bytes and the output is
 * exactly what the server sent.
 */
const HEX = Buffer.from('0123456789abcdef');

// Byte → escape letter (0 = no escape), the set mysqldump escapes (mysql_real_escape_string).
const ESC = new Uint8Array(256);
ESC[0x00] = 0x30; // \0
ESC[0x0a] = 0x6e; // \n
ESC[0x0d] = 0x72; // \r
ESC[0x5c] = 0x5c; // \\
ESC[0x27] = 0x27; // \'
ESC[0x22] = 0x22; // \"
ESC[0x1a] = 0x5a; // \Z

export const KIND_NUMBER = 0;
export const KIND_QUOTED = 1;
export const KIND_HEX = 2;
export const KIND_BITS = 3;
/** ENUM whose member names reload unambiguously: '…', but index 0 (the empty "invalid value") as `0`. */
export const KIND_ENUM = 4;
/**
 * A text column in a character set that does not survive conversion to utf8mb4 (cp1251, sjis, ascii…): its raw
 * bytes as `_charset 0x…`, which stores them unchanged. The introducer comes from the row call's `intros`.
 */
export const KIND_CHARSET_HEX = 5;

const ZERO = 0x30;

function copyBytes(out: Buffer, p: number, b: Buffer, from: number, to: number): number {
  if (to - from > 32) return p + b.copy(out, p, from, to);
  for (let i = from; i < to; i++) out[p++] = b[i]!;
  return p;
}

const ESCAPED = [0x27, 0x22, 0x5c, 0x0a, 0x0d, 0x00, 0x1a];

/**
 * Index of the first byte of b[from, to) that needs an escape, or `to`: seven native memchr calls beat a JS loop
 * past ~50 bytes.
 */
function firstEscape(b: Buffer, from: number, to: number): number {
  const view = from === 0 && to === b.length ? b : b.subarray(from, to);
  let first = to - from;
  for (let k = 0; k < ESCAPED.length; k++) {
    const at = view.indexOf(ESCAPED[k]!);
    if (at >= 0 && at < first) first = at;
  }
  return from + first;
}

/**
 * '…' for b[from, to). Most values need no escape: they are scanned first and then copied whole (natively when
 * long); only a value that holds an escapable byte is copied byte by byte from its first one. Half the time of
 * escaping as it goes.
 */
function writeQuoted(out: Buffer, p: number, b: Buffer, from: number, to: number): number {
  out[p++] = 0x27;
  let i = from;
  if (to - from >= 64) i = firstEscape(b, from, to);
  else while (i < to && ESC[b[i]!] === 0) i++;
  p = copyBytes(out, p, b, from, i);
  for (; i < to; i++) {
    const c = b[i]!;
    const e = ESC[c]!;
    if (e === 0) out[p++] = c;
    else {
      out[p++] = 0x5c;
      out[p++] = e;
    }
  }
  out[p++] = 0x27;
  return p;
}

/** 0x… for b[from, to); '' when empty, as mysqldump writes. */
function writeHex(out: Buffer, p: number, b: Buffer, from: number, to: number): number {
  if (to === from) {
    out[p++] = 0x27;
    out[p++] = 0x27;
    return p;
  }
  out[p++] = 0x30;
  out[p++] = 0x78;
  if (to - from > 64) return p + out.write(b.toString('hex', from, to), p, 'latin1');
  for (let i = from; i < to; i++) {
    const v = b[i]!;
    out[p++] = HEX[v >> 4]!;
    out[p++] = HEX[v & 15]!;
  }
  return p;
}

/** b'…' for BIT columns, as mysqldump writes them (no leading zeros; b'0' for zero). */
function writeBits(out: Buffer, p: number, b: Buffer, from: number, to: number): number {
  let s = '';
  for (let i = from; i < to; i++) s += b[i]!.toString(2).padStart(8, '0');
  s = s.replace(/^0+/, '') || '0';
  return p + out.write(`b'${s}'`, p, 'latin1');
}

function writeNull(out: Buffer, p: number): number {
  out[p++] = 0x4e;
  out[p++] = 0x55;
  out[p++] = 0x4c;
  out[p++] = 0x4c;
  return p;
}

type Intros = ReadonlyArray<Buffer | undefined> | undefined;

function writeValue(out: Buffer, p: number, kind: number, b: Buffer, from: number, to: number, intros: Intros, col: number): number {
  if (kind === KIND_QUOTED) return writeQuoted(out, p, b, from, to);
  if (kind === KIND_NUMBER) return copyBytes(out, p, b, from, to);
  if (kind === KIND_HEX) return writeHex(out, p, b, from, to);
  return writeRare(out, p, kind, b, from, to, intros?.[col]);
}

/** The kinds only some columns have, out of the common path. */
function writeRare(out: Buffer, p: number, kind: number, b: Buffer, from: number, to: number, intro: Buffer | undefined): number {
  if (kind === KIND_BITS) return writeBits(out, p, b, from, to);
  if (kind === KIND_ENUM) {
    // The server sends index 0 as the empty string; `''` would reload as a declared '' member (or fail in strict
    // mode), the number 0 reloads as index 0 under the dump's non-strict sql_mode.
    if (to === from) {
      out[p++] = ZERO;
      return p;
    }
    return writeQuoted(out, p, b, from, to);
  }
  if (intro) p = copyBytes(out, p, intro, 0, intro.length);
  return writeHex(out, p, b, from, to);
}

/** Room an introducer (`_eucjpms `) may take in front of a value. */
export const INTRO_ROOM = 16;

/** Thrown when a row packet does not hold the values its result set announced. */
export class RowPacketError extends Error {
  override name = 'RowPacketError';
}

export class SqlBuffer {
  buf: Buffer;
  len = 0;
  private readonly initial: number;
  constructor(initial = 1 << 21) {
    this.initial = initial;
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  ascii(s: string): void {
    this.ensure(s.length * 3);
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  raw(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
  }

  /** '…' with mysqldump's escapes; input is the column value's bytes in the connection character set. */
  quoted(b: Buffer): void {
    this.ensure(b.length * 2 + 2);
    this.len = writeQuoted(this.buf, this.len, b, 0, b.length);
  }

  /** 0x… hex literal (mysqldump --hex-blob); '' for an empty value, as mysqldump writes. */
  hex(b: Buffer): void {
    this.ensure(b.length * 2 + 2);
    this.len = writeHex(this.buf, this.len, b, 0, b.length);
  }

  /**
   * One row `(v1,v2,…)` of raw protocol values. One capacity check per row and plain loops for short values:
   * most values are a few bytes, where a native Buffer.copy call costs more than the copy.
   */
  row(r: Array<Buffer | null>, kinds: Uint8Array, leadingComma: boolean, intros?: Intros): void {
    const n = kinds.length;
    let need = intros ? 8 + n * INTRO_ROOM : 8;
    for (let i = 0; i < n; i++) {
      const v = r[i];
      need += v ? v.length * 2 + 4 : 5;
      if (v && kinds[i] === KIND_BITS) need += v.length * 8;
    }
    this.ensure(need);
    const out = this.buf;
    let p = this.len;
    if (leadingComma) out[p++] = 0x2c;
    out[p++] = 0x28;
    for (let i = 0; i < n; i++) {
      if (i) out[p++] = 0x2c;
      const v = r[i];
      if (v === null || v === undefined) p = writeNull(out, p);
      else p = writeValue(out, p, kinds[i]!, v, 0, v.length, intros, i);
    }
    out[p++] = 0x29;
    this.len = p;
  }

  /**
   * The same from a text-protocol row packet as the server sent it: `kinds.length` length-coded values in
   * buf[offset, end) (0xfb = NULL). No Buffer is made per value, which is most of what a driver spends per row.
   */
  packetRow(buf: Buffer, offset: number, end: number, kinds: Uint8Array, hasBits: boolean, leadingComma: boolean, intros?: Intros): void {
    const n = kinds.length;
    // Worst cases: every byte escaped (2 per byte), a BIT byte as 8 digits, NULL (4) and a comma per column, and
    // an introducer per column where a table has them.
    this.ensure((end - offset) * (hasBits ? 9 : 2) + n * (intros ? 6 + INTRO_ROOM : 6) + 8);
    const out = this.buf;
    let p = this.len;
    let at = offset;
    if (leadingComma) out[p++] = 0x2c;
    out[p++] = 0x28;
    for (let i = 0; i < n; i++) {
      if (i) out[p++] = 0x2c;
      const tag = buf[at++]!;
      let len: number;
      if (tag < 0xfb) len = tag;
      else if (tag === 0xfb) {
        p = writeNull(out, p);
        continue;
      } else if (tag === 0xfc) {
        len = buf[at]! | (buf[at + 1]! << 8);
        at += 2;
      } else if (tag === 0xfd) {
        len = buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16);
        at += 3;
      } else if (tag === 0xfe) {
        len = buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 0x1_0000_0000;
        at += 8;
      } else throw new RowPacketError(`bad length byte 0x${tag.toString(16)} in column ${i + 1}`);
      if (at + len > end) throw new RowPacketError(`column ${i + 1} runs past the end of its row`);
      p = writeValue(out, p, kinds[i]!, buf, at, at + len, intros, i);
      at += len;
    }
    if (at !== end) throw new RowPacketError(`the row holds ${end - at} bytes more than its ${n} columns`);
    out[p++] = 0x29;
    this.len = p;
  }

  /**
   * Hands out the bytes written so far (the consumer owns them) and starts a new buffer of the initial size: one
   * that grew for a long row is not kept, since every statement's buffer, unused tail included, stays alive until
   * the destination has written it.
   */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(this.initial);
    this.len = 0;
    return out;
  }
}

/** Escapes a string for a '…' SQL literal (metadata, comments), same rules as row data. */
export function quoteString(s: string): string {
  return `'${s.replace(/[\0\n\r\\'"\x1a]/g, (c) => ({ '\0': '\\0', '\n': '\\n', '\r': '\\r', '\\': '\\\\', "'": "\\'", '"': '\\"', '\x1a': '\\Z' })[c]!)}'`;
}

/** `name` with backticks doubled. */
export function quoteIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}
