import { isAscii } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import picomatch from 'picomatch';

/** A failure that stops the whole analysis (as opposed to a malformed entry, which is skipped). */
export class SlowLogError extends Error {
  override name = 'SlowLogError';
}

// 64 KiB: a chunk's string must stay a regular heap object that dies young. From 128 KiB on, V8
// allocates it in large-object space (its own mapping, copied at ~0.7 GB/s instead of ~8 GB/s, and
// freed only by a full collection: a 1 MiB one piles up in old space).
const READ_CHUNK = 64 << 10;

/**
 * The files to read: `path` itself, or the files in the folder `path` whose names match `pattern`.
 * `goTool`: as the Go tool, a file is read whatever the pattern, and a folder with no (matching)
 * files gives no files instead of an error.
 */
export async function listInputFiles(path: string, pattern: string | undefined, goTool = false): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new SlowLogError(`Cannot read ${path}: ${describe(err)}; check the path and its permissions.`);
  }
  if (!info.isDirectory()) {
    if (pattern && !goTool && !picomatch(pattern, { basename: true, dot: true })(path)) {
      throw new SlowLogError(`${path} does not match --pattern ${pattern}; fix the pattern or the path.`);
    }
    return [path];
  }
  const isMatch = pattern ? picomatch(pattern, { basename: true, dot: true }) : () => true;
  let names: string[];
  try {
    names = (await readdir(path, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  } catch (err) {
    throw new SlowLogError(`Cannot list folder ${path}: ${describe(err)}; check its permissions.`);
  }
  const files = names
    .filter((name) => isMatch(name))
    .sort()
    .map((name) => join(path, name));
  if (files.length === 0 && !goTool) {
    const what = pattern ? `no file matching ${pattern}` : 'no files';
    throw new SlowLogError(`Folder ${path} has ${what}; point at a slow log or a folder that holds some.`);
  }
  return files;
}

/** Whether the file starts with the gzip magic bytes. */
export async function isGzipFile(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** Opens a log for reading as UTF-8 text, gunzipping it when it starts with the gzip magic bytes. */
export async function openLogText(path: string, start = 0, end?: number): Promise<AsyncIterable<string>> {
  let gzipped = false;
  try {
    const handle = await open(path, 'r');
    try {
      const head = Buffer.alloc(2);
      const { bytesRead } = await handle.read(head, 0, 2, 0);
      gzipped = bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new SlowLogError(`Cannot read ${path}: ${describe(err)}; check the path and its permissions.`);
  }
  if (gzipped && (start !== 0 || end !== undefined)) throw new Error('a gzip file can only be read whole');
  if (!gzipped) return plainText(path, start, end);
  const file = createReadStream(path, { highWaterMark: READ_CHUNK });
  // Inflating runs on libuv's thread pool, beside the parsing in this thread (~0.3 s of CPU per
  // 100 MB of log, a tenth of the parse).
  const gunzip = createGunzip({ chunkSize: READ_CHUNK });
  file.on('error', (err) => gunzip.destroy(err));
  file.pipe(gunzip);
  return decodeUtf8(gunzip);
}

/** UTF-8 text of a stream of buffers, decoded as plainText decodes (no character is cut at a buffer's end). */
async function* decodeUtf8(buffers: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let carry: Buffer | undefined;
  for await (const piece of buffers) {
    const buffer = carry === undefined ? piece : Buffer.concat([carry, piece]);
    const whole = completeUtf8(buffer, buffer.length);
    carry = whole < buffer.length ? Buffer.from(buffer.subarray(whole)) : undefined;
    yield* decodeText(buffer, whole);
  }
  if (carry !== undefined) yield carry.toString('utf8');
}

/**
 * buffer[0, n) as strings. All ASCII (most slow logs): one Latin-1 string, a plain copy, where UTF-8
 * decoding would check every byte again. Otherwise in two halves: text with a character past U+00FF
 * is a two-byte string, and 64 Ki characters of it would be 128 KiB, in large-object space (see
 * READ_CHUNK); each half stays a regular object.
 */
function* decodeText(buffer: Buffer, n: number): Generator<string> {
  if (isAscii(buffer.subarray(0, n))) {
    yield buffer.toString('latin1', 0, n);
    return;
  }
  const half = completeUtf8(buffer, n >> 1);
  yield buffer.toString('utf8', 0, half);
  yield buffer.toString('utf8', half, n);
}

/**
 * The text of path[start, end). Two buffers are read into again and again, the next read running
 * while the current chunk is parsed: a new Buffer per read (as a read stream makes) is memory
 * outside the JS heap that the garbage collector frees late, and with several threads that alone
 * adds tens of megabytes. Chunks are decoded by decodeText.
 */
async function* plainText(path: string, start: number, end: number | undefined): AsyncGenerator<string> {
  const handle = await open(path, 'r');
  const buffers = [Buffer.allocUnsafe(READ_CHUNK), Buffer.allocUnsafe(READ_CHUNK)];
  let position = start;
  // Each read is started only after the previous one has finished, so `position` is exact.
  const read = async (buffer: Buffer, offset: number): Promise<number> => {
    const want = end === undefined ? READ_CHUNK - offset : Math.min(READ_CHUNK - offset, end - position);
    if (want <= 0) return 0;
    const { bytesRead } = await handle.read(buffer, offset, want, position);
    position += bytesRead;
    return bytesRead;
  };
  let pending: Promise<number> | undefined;
  try {
    let current = 0;
    let carried = 0; // bytes of a UTF-8 character cut by the previous read, moved to the front
    let bytesRead = await read(buffers[0]!, 0);
    while (bytesRead > 0) {
      const buffer = buffers[current]!;
      const filled = carried + bytesRead;
      const whole = completeUtf8(buffer, filled);
      const next = buffers[current ^ 1]!;
      carried = buffer.copy(next, 0, whole, filled);
      // The next read goes after the carried bytes; it runs while this chunk is decoded and parsed.
      pending = read(next, carried);
      // Marked handled: a read that fails while the consumer holds this chunk is reported by the await below.
      pending.catch(() => 0);
      yield* decodeText(buffer, whole);
      bytesRead = await pending;
      pending = undefined;
      current ^= 1;
    }
    if (carried > 0) yield buffers[current]!.toString('utf8', 0, carried);
  } finally {
    // A consumer that stops early (an error) must not close the file under a read in flight.
    await pending?.catch(() => 0);
    await handle.close();
  }
}

/** The length of buf[0, n) without a UTF-8 character cut at its end. */
function completeUtf8(buf: Buffer, n: number): number {
  // Look back over at most 3 continuation bytes (10xxxxxx) for the lead byte of the last character.
  for (let i = n - 1, back = 0; i >= 0 && back < 4; i--, back++) {
    const b = buf[i]!;
    if ((b & 0xc0) === 0x80) continue;
    const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return i + size <= n ? n : i;
  }
  return n;
}

/**
 * Calls `onLine` for every line of `text` (without its `\n` or `\r\n`). Lines of any length work:
 * a line that spans chunks is collected in pieces and joined once.
 */
export async function forEachLine(text: AsyncIterable<string>, onLine: (line: string) => void): Promise<number> {
  let pending: string[] = [];
  let bytes = 0;
  for await (const chunk of text) {
    bytes += chunk.length;
    let start = 0;
    let nl = chunk.indexOf('\n');
    if (nl >= 0 && pending.length > 0) {
      pending.push(chunk.slice(0, nl));
      onLine(stripCr(pending.join('')));
      pending = [];
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    while (nl >= 0) {
      onLine(stripCr(chunk.slice(start, nl)));
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    if (start < chunk.length) pending.push(chunk.slice(start));
  }
  if (pending.length > 0) onLine(stripCr(pending.join('')));
  return bytes;
}

function stripCr(line: string): string {
  return line.charCodeAt(line.length - 1) === 0x0d ? line.slice(0, -1) : line;
}

export function describe(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err) {
    const code = String((err as { code: unknown }).code);
    const known: Record<string, string> = {
      ENOENT: 'no such file or folder',
      EACCES: 'permission denied',
      EISDIR: 'it is a folder',
      Z_DATA_ERROR: 'the gzip data is corrupt',
      Z_BUF_ERROR: 'the gzip data is truncated',
    };
    if (known[code]) return known[code]!;
  }
  return err instanceof Error ? err.message.replace(/\.$/, '') : String(err);
}
