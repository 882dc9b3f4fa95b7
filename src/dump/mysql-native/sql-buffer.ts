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
    const out = this.buf;
    let p = this.len;
    out[p++] = 0x27;
    const n = b.length;
    let start = 0;
    for (let i = 0; i < n; i++) {
      const e = ESC[b[i]!]!;
      if (e === 0) continue;
      if (i > start) {
        b.copy(out, p, start, i);
        p += i - start;
      }
      out[p++] = 0x5c;
      out[p++] = e;
      start = i + 1;
    }
    if (n > start) {
      b.copy(out, p, start, n);
      p += n - start;
    }
    out[p++] = 0x27;
    this.len = p;
  }

  /** 0x… hex literal (mysqldump --hex-blob); '' for an empty value, as mysqldump writes. */
  hex(b: Buffer): void {
    if (b.length === 0) {
      this.ascii("''");
      return;
    }
    this.ensure(b.length * 2 + 2);
    const out = this.buf;
    let p = this.len;
    out[p++] = 0x30;
    out[p++] = 0x78;
    for (let i = 0; i < b.length; i++) {
      const v = b[i]!;
      out[p++] = HEX[v >> 4]!;
      out[p++] = HEX[v & 15]!;
    }
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
