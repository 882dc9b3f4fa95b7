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

function copyBytes(out: Buffer, p: number, b: Buffer, from: number, to: number): number {
  if (to - from > 32) return p + b.copy(out, p, from, to);
  for (let i = from; i < to; i++) out[p++] = b[i]!;
  return p;
}

const ESCAPED = [0x27, 0x22, 0x5c, 0x0a, 0x0d, 0x00, 0x1a];

/** Index of the first byte of b that needs an escape, or b.length: seven native memchr calls beat a JS loop past ~50 bytes. */
function firstEscape(b: Buffer): number {
  let first = b.length;
  for (let k = 0; k < ESCAPED.length; k++) {
    const at = b.indexOf(ESCAPED[k]!);
    if (at >= 0 && at < first) first = at;
  }
  return first;
}

/**
 * Most values need no escape: they are scanned first and then copied whole (natively when long); only a value
 * that holds an escapable byte is copied byte by byte from its first one. Half the time of escaping as it goes.
 */
function writeQuoted(out: Buffer, p: number, b: Buffer): number {
  out[p++] = 0x27;
  const n = b.length;
  let i = 0;
  if (n >= 64) i = firstEscape(b);
  else while (i < n && ESC[b[i]!] === 0) i++;
  p = copyBytes(out, p, b, 0, i);
  for (; i < n; i++) {
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

function writeHex(out: Buffer, p: number, b: Buffer): number {
  if (b.length === 0) {
    out[p++] = 0x27;
    out[p++] = 0x27;
    return p;
  }
  out[p++] = 0x30;
  out[p++] = 0x78;
  if (b.length > 64) return p + out.write(b.toString('hex'), p, 'latin1');
  for (let i = 0; i < b.length; i++) {
    const v = b[i]!;
    out[p++] = HEX[v >> 4]!;
    out[p++] = HEX[v & 15]!;
  }
  return p;
}

export class SqlBuffer {
  buf: Buffer;
  len = 0;
  constructor(initial = 1 << 21) {
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
    this.len = writeQuoted(this.buf, this.len, b);
  }

  /** 0x… hex literal (mysqldump --hex-blob); '' for an empty value, as mysqldump writes. */
  hex(b: Buffer): void {
    this.ensure(b.length * 2 + 2);
    this.len = writeHex(this.buf, this.len, b);
  }

  /**
   * One row `(v1,v2,…)` of raw protocol values. One capacity check per row and plain loops for short values:
   * most values are a few bytes, where a native Buffer.copy call costs more than the copy.
   */
  row(r: Array<Buffer | null>, kinds: Uint8Array, leadingComma: boolean): void {
    const n = kinds.length;
    let need = 8;
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
      if (v === null || v === undefined) {
        out[p++] = 0x4e; // NULL
        out[p++] = 0x55;
        out[p++] = 0x4c;
        out[p++] = 0x4c;
        continue;
      }
      const k = kinds[i];
      if (k === KIND_QUOTED) p = writeQuoted(out, p, v);
      else if (k === KIND_NUMBER) p = copyBytes(out, p, v, 0, v.length);
      else if (k === KIND_HEX) p = writeHex(out, p, v);
      else {
        this.len = p;
        this.bits(v);
        p = this.len;
      }
    }
    out[p++] = 0x29;
    this.len = p;
  }

  /** b'…' for BIT columns, as mysqldump writes them (no leading zeros; b'0' for zero). */
  bits(b: Buffer): void {
    let s = '';
    for (const v of b) s += v.toString(2).padStart(8, '0');
    s = s.replace(/^0+/, '') || '0';
    this.ascii(`b'${s}'`);
  }

  /** Hands out the bytes written so far and starts a new buffer (the old one is owned by the consumer). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(Math.max(1 << 16, this.buf.length));
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
