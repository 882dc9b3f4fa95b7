import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { OnedumpError } from '../util/errors.js';
import { crc32 } from './crc32.js';
import { EventType, eventTypeName } from './event-types.js';
import { decodeInfo } from './event-info.js';

/** The 4 bytes every binlog file starts with. */
export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
export const HEADER_SIZE = 19;
/** LOG_EVENT_BINLOG_IN_USE_F: set in the format description event while the server has the file open. */
const IN_USE_FLAG = 0x1;

export interface FormatDescription {
  binlogVersion: number;
  serverVersion: string;
  createTimestamp: number;
  headerLength: number;
  /** Whether events end with a CRC32 (binlog_checksum=CRC32 on the writing server). */
  checksum: boolean;
  /** The writing server still had the file open (it was copied while active or the server crashed). */
  inUse: boolean;
  /** Post-header length of each event type (index = type - 1), needed to decode bodies. */
  postHeaderLengths: Uint8Array;
}

export interface BinlogEvent {
  /** Offset of the event in its file: what mysqlbinlog prints as `# at N`. */
  pos: number;
  /** pos + size: where the next event starts. */
  end: number;
  /** The header's next-position field (`end_log_pos` in mysqlbinlog output). */
  logPos: number;
  /** Seconds since the epoch, from the event header (when the statement started or the transaction committed). */
  timestamp: number;
  type: number;
  typeName: string;
  serverId: number;
  size: number;
  flags: number;
  /** A short description (query text, GTID, xid, table, rotate target) when decodeInfo was asked for. */
  info?: string;
}

export interface ReadOptions {
  /** Yield only events starting at or after this offset; it must be an event boundary (or the end of the file). */
  start?: number;
  /** Verify CRC32 checksums when the format description says events carry them (default true). */
  verifyChecksums?: boolean;
  /** Decode a short `info` for each event (slower; for listings). */
  withInfo?: boolean;
  /** Read size; tests use a tiny one to exercise events that straddle reads. */
  chunkSize?: number;
}

/** A binlog that cannot be read: names the file and the offset. Exit code 1. */
export class BinlogFormatError extends OnedumpError {
  readonly file: string;
  readonly offset: number;
  constructor(file: string, offset: number, what: string) {
    super(`${basename(file)}: ${what} at offset ${offset}.`);
    this.file = file;
    this.offset = offset;
  }
}

/** Events whose body is at most this large are held whole (for checksums and info); bigger ones are streamed. */
const MAX_HOLD = 16 * 1024 * 1024;

/** Sequential buffered reads over a file handle; memory stays at the chunk size (or one held event). */
class Window {
  buf: Buffer;
  /** Index in buf of the next unread byte, and of the end of valid data. */
  start = 0;
  end = 0;
  /** File offset of buf[start]. */
  offset = 0;
  private readOff = 0;
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly chunk: number,
  ) {
    this.buf = Buffer.allocUnsafe(chunk);
  }
  get available(): number {
    return this.end - this.start;
  }
  /** Makes at least n bytes available unless the file (as seen at open) ends first; returns what is available. */
  async ensure(n: number): Promise<number> {
    while (this.end - this.start < n && this.readOff < this.size) {
      if (this.buf.length - this.start < n) {
        const bigger = Buffer.allocUnsafe(Math.max(n, this.chunk));
        this.buf.copy(bigger, 0, this.start, this.end);
        this.buf = bigger;
        this.end -= this.start;
        this.start = 0;
      } else if (this.buf.length - this.end < Math.min(this.chunk, n - (this.end - this.start))) {
        this.buf.copy(this.buf, 0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      }
      const want = Math.min(this.buf.length - this.end, this.size - this.readOff);
      const { bytesRead } = await this.fh.read(this.buf, this.end, want, this.readOff);
      if (bytesRead === 0) break; // the file shrank under us; callers report it as truncated
      this.end += bytesRead;
      this.readOff += bytesRead;
    }
    return this.end - this.start;
  }
  consume(n: number): void {
    this.start += n;
    this.offset += n;
  }
}

function parseServerVersion(v: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
}

/** Servers from MySQL 5.6.1 (and every MariaDB 10+) append a checksum-algorithm byte and 4 checksum bytes to the FDE. */
function isChecksumAware(serverVersion: string): boolean {
  const [a, b, c] = parseServerVersion(serverVersion);
  if (/mariadb/i.test(serverVersion)) return a > 5 || (a === 5 && b >= 3);
  return a > 5 || (a === 5 && (b > 6 || (b === 6 && c >= 1)));
}

function parseFormatDescription(file: string, ev: Buffer): FormatDescription {
  const body = ev.subarray(HEADER_SIZE);
  if (body.length < 57) throw new BinlogFormatError(file, 4, 'the format description event is too short to be one');
  const binlogVersion = body.readUInt16LE(0);
  const serverVersion = body.subarray(2, 52).toString('latin1').replace(/\0.*$/s, '');
  const createTimestamp = body.readUInt32LE(52);
  const headerLength = body.readUInt8(56);
  let lengthsEnd = body.length;
  let checksum = false;
  if (isChecksumAware(serverVersion)) {
    if (body.length < 57 + 5) throw new BinlogFormatError(file, 4, 'the format description event is too short for its checksum fields');
    const alg = body.readUInt8(body.length - 5);
    checksum = alg === 1;
    lengthsEnd = body.length - 5;
  }
  if (binlogVersion !== 4) throw new BinlogFormatError(file, 4, `binlog format version ${binlogVersion} is not supported (only v4, MySQL 5.0+ and MariaDB)`);
  if (headerLength < HEADER_SIZE) throw new BinlogFormatError(file, 4, `the format description declares a ${headerLength}-byte header (at least 19 expected)`);
  return {
    binlogVersion,
    serverVersion,
    createTimestamp,
    headerLength,
    checksum,
    inUse: (ev.readUInt16LE(17) & IN_USE_FLAG) !== 0,
    postHeaderLengths: Uint8Array.from(body.subarray(57, lengthsEnd)),
  };
}

/** Reads the format description event of a binlog (magic and first event only). */
export async function readFormatDescription(path: string): Promise<FormatDescription> {
  const it = readBinlogWithFormat(path, { verifyChecksums: true });
  const first = await it.next();
  await it.return(undefined);
  if (first.done || !first.value.format) throw new BinlogFormatError(path, 4, 'no format description event');
  return first.value.format;
}

/**
 * Streams the events of one binlog file (v4: magic, 19-byte headers, a format description event first). Checksums
 * are verified when the format description says they are on. A truncated or corrupt file throws BinlogFormatError
 * naming the file and the offset. Only the bytes present when the file was opened are read.
 */
export async function* readBinlog(path: string, opts: ReadOptions = {}): AsyncGenerator<BinlogEvent> {
  for await (const { event } of readBinlogWithFormat(path, opts)) yield event;
}

/** As readBinlog, with the file's format description attached to the first event yielded. */
export async function* readBinlogWithFormat(
  path: string,
  opts: ReadOptions = {},
): AsyncGenerator<{ event: BinlogEvent; format?: FormatDescription }> {
  const start = opts.start ?? 4;
  const verify = opts.verifyChecksums ?? true;
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new OnedumpError(
      code === 'ENOENT' ? `binlog file ${path} does not exist.` : `cannot open binlog file ${path} (${code ?? (err as Error).message}).`,
      { cause: err },
    );
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new OnedumpError(`${path} is not a regular file.`);
    const size = st.size;
    const win = new Window(fh, size, Math.max(64, opts.chunkSize ?? 1 << 20));
    if ((await win.ensure(4)) < 4 || !win.buf.subarray(win.start, win.start + 4).equals(BINLOG_MAGIC)) {
      throw new BinlogFormatError(path, 0, size < 4 ? 'too short to be a binlog file (no magic number)' : 'not a binlog file (bad magic number)');
    }
    if (start < 4 || start > size) {
      throw new BinlogFormatError(path, start, `the start position ${start} is outside the file (4 to ${size})`);
    }
    win.consume(4);
    let format: FormatDescription | undefined;
    let attachFormat = true;
    let checksum = false;
    for (;;) {
      const pos = win.offset;
      if (pos === size) break;
      if ((await win.ensure(HEADER_SIZE)) < HEADER_SIZE) {
        throw new BinlogFormatError(path, pos, `the file is truncated: ${size - pos} bytes remain where a ${HEADER_SIZE}-byte event header should be`);
      }
      const b = win.buf;
      const h = win.start;
      const timestamp = b.readUInt32LE(h);
      const type = b[h + 4] as number;
      const serverId = b.readUInt32LE(h + 5);
      const evSize = b.readUInt32LE(h + 9);
      const logPos = b.readUInt32LE(h + 13);
      const flags = b.readUInt16LE(h + 17);
      if (!format && type !== EventType.FORMAT_DESCRIPTION) {
        throw new BinlogFormatError(
          path,
          pos,
          type === EventType.START_V3 ? 'binlog format v1–v3 (MySQL before 5.0) is not supported' : `the first event is ${eventTypeName(type)}, not a format description event`,
        );
      }
      const minSize = HEADER_SIZE + (checksum ? 4 : 0);
      if (evSize < minSize) throw new BinlogFormatError(path, pos, `corrupt event header: an event of ${evSize} bytes is impossible (header says type ${type})`);
      if (pos + evSize > size) {
        throw new BinlogFormatError(path, pos, `the file is truncated or corrupt: the ${eventTypeName(type)} event needs ${evSize} bytes but only ${size - pos} remain`);
      }
      if (pos < start && pos + evSize > start) {
        throw new BinlogFormatError(path, start, `position ${start} is not an event boundary (the ${eventTypeName(type)} event at ${pos} ends at ${pos + evSize})`);
      }
      if (pos < start && format) {
        // Before the requested start: only walk the headers.
        await skip(win, evSize);
        continue;
      }
      let info: string | undefined;
      const wanted = verify || type === EventType.FORMAT_DESCRIPTION || opts.withInfo;
      if (wanted && evSize <= MAX_HOLD) {
        if ((await win.ensure(evSize)) < evSize) throw new BinlogFormatError(path, pos, 'the file shrank while it was being read');
        let ev = win.buf.subarray(win.start, win.start + evSize);
        if (type === EventType.FORMAT_DESCRIPTION) {
          const fd = parseFormatDescription(path, ev);
          if (!format) {
            format = fd;
            checksum = fd.checksum;
          }
          if (fd.checksum && (flags & IN_USE_FLAG) !== 0) {
            // The server computed the FDE checksum with the in-use flag clear, and clears the flag in place on close.
            ev = Buffer.from(ev);
            ev.writeUInt16LE(flags & ~IN_USE_FLAG, 17);
          }
          if (verify && fd.checksum) verifyCrc(path, pos, ev, type);
        } else if (verify && checksum) {
          verifyCrc(path, pos, ev, type);
        }
        if (opts.withInfo && format) info = decodeInfo(type, ev.subarray(HEADER_SIZE, evSize - (checksum ? 4 : 0)), serverId, format);
        win.consume(evSize);
      } else if (verify && checksum) {
        await streamCrc(win, path, pos, evSize, type);
      } else {
        await skip(win, evSize);
      }
      if (pos < start) continue; // the format description before a later start position
      const event: BinlogEvent = { pos, end: pos + evSize, logPos, timestamp, type, typeName: eventTypeName(type), serverId, size: evSize, flags };
      if (info !== undefined) event.info = info;
      if (attachFormat) {
        attachFormat = false;
        yield { event, format };
      } else {
        yield { event };
      }
    }
  } finally {
    await fh.close();
  }
}

function verifyCrc(file: string, pos: number, ev: Buffer, type: number): void {
  const stored = ev.readUInt32LE(ev.length - 4);
  const actual = crc32(ev.subarray(0, ev.length - 4));
  if (stored !== actual) {
    throw new BinlogFormatError(
      file,
      pos,
      `checksum mismatch in the ${eventTypeName(type)} event (stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${actual.toString(16).padStart(8, '0')}); the file is corrupt`,
    );
  }
}

async function skip(win: Window, n: number): Promise<void> {
  let left = n;
  while (left > 0) {
    const have = win.available || (await win.ensure(1));
    if (have === 0) throw new Error('unexpected end of file while skipping'); // guarded by size checks above
    const take = Math.min(have, left);
    win.consume(take);
    left -= take;
  }
}

/** CRC over an event too big to hold: feed the checksum read by read, then compare the last 4 bytes. */
async function streamCrc(win: Window, file: string, pos: number, evSize: number, type: number): Promise<void> {
  let left = evSize - 4;
  let crc = 0;
  while (left > 0) {
    const have = win.available || (await win.ensure(1));
    if (have === 0) throw new BinlogFormatError(file, pos, 'the file shrank while it was being read');
    const take = Math.min(have, left);
    crc = crc32(win.buf.subarray(win.start, win.start + take), crc);
    win.consume(take);
    left -= take;
  }
  if ((await win.ensure(4)) < 4) throw new BinlogFormatError(file, pos, 'the file shrank while it was being read');
  const stored = win.buf.readUInt32LE(win.start);
  win.consume(4);
  if (stored !== crc) {
    throw new BinlogFormatError(file, pos, `checksum mismatch in the ${eventTypeName(type)} event; the file is corrupt`);
  }
}
