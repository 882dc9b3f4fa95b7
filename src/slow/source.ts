import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import picomatch from 'picomatch';

/** A failure that stops the whole analysis (as opposed to a malformed entry, which is skipped). */
export class SlowLogError extends Error {
  override name = 'SlowLogError';
}

// 64 KiB: a chunk dies young (a 1 MiB chunk string outlives scavenges and piles up in old space).
const READ_CHUNK = 64 << 10;

/** The files to read: `path` itself, or the files in the folder `path` whose names match `pattern`. */
export async function listInputFiles(path: string, pattern: string | undefined): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new SlowLogError(`Cannot read ${path}: ${describe(err)}; check the path and its permissions.`);
  }
  if (!info.isDirectory()) {
    if (pattern && !picomatch(pattern, { basename: true, dot: true })(path)) {
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
  if (files.length === 0) {
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
export async function openLogText(path: string, start = 0, end?: number): Promise<Readable> {
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
  const range = end === undefined ? { start } : { start, end: end - 1 };
  const file = createReadStream(path, { highWaterMark: READ_CHUNK, ...range });
  if (!gzipped) {
    file.setEncoding('utf8');
    return file;
  }
  const gunzip = createGunzip({ chunkSize: READ_CHUNK });
  file.on('error', (err) => gunzip.destroy(err));
  file.pipe(gunzip);
  gunzip.setEncoding('utf8');
  return gunzip;
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
