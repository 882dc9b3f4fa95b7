import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { OnedumpError, UsageError } from '../util/errors.js';
import { compressionByMagic } from '../jobs/compression.js';
import { createZstdDecompress, zstdAvailable, zstdNeedsNode } from '../jobs/parallel-compress.js';

export interface DumpCoordinates {
  file: string;
  pos: number;
  /** MariaDB's gtid_slave_pos / MySQL's gtid_purged from the dump, when it recorded one. */
  gtid?: string;
  /** The line the coordinates came from (1-based), for messages. */
  line: number;
}

const COORD_RE = /(?:MASTER|SOURCE)_LOG_FILE\s*=\s*'([^']+)'\s*,\s*(?:MASTER|SOURCE)_LOG_POS\s*=\s*(\d+)/i;
const GTID_RE = /(?:gtid_slave_pos|gtid_purged)\s*=\s*(?:\/\*[^*]*\*\/\s*)?'([^']*)'/i;
/** Coordinates sit in the header, before any data: give up after this much text rather than read a whole dump. */
const MAX_HEAD_BYTES = 64 * 1024 * 1024;

/**
 * Reads the binlog coordinates a `--master-data=2` / `--source-data=2` dump records in its head
 * (`CHANGE MASTER TO MASTER_LOG_FILE='…', MASTER_LOG_POS=…;` or `CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE=…`),
 * from a plain, gzip or zstd file (detected by its magic bytes), reading only until they are found.
 */
export async function readDumpCoordinates(path: string): Promise<DumpCoordinates> {
  const kind = await compressionOfFile(path);
  if (kind === 'zstd' && !zstdAvailable()) throw new UsageError(`the dump file ${path} is zstd-compressed, and reading it here is not possible: ${zstdNeedsNode()}.`);
  const raw = createReadStream(path);
  const text: Readable = kind ? raw.pipe(kind === 'zstd' ? createZstdDecompress() : createGunzip()) : raw;
  try {
    return await readDumpCoordinatesFrom(text, `the dump file ${path}`, kind ? `is not a readable ${kind} file` : 'cannot be read');
  } finally {
    raw.destroy();
  }
}

/**
 * The same, from a dump's SQL text as a stream (already decompressed/decrypted), e.g. from any storage. Reads only the
 * header; the caller closes the source.
 */
export async function readDumpCoordinatesFrom(text: Readable, label: string, unreadable = 'cannot be read'): Promise<DumpCoordinates> {
  let carry = '';
  let lineNo = 0;
  let seen = 0;
  let found: DumpCoordinates | undefined;
  let gtid: string | undefined;
  let dataStarted = false;
  try {
    for await (const chunk of text) {
      const s = carry + (chunk as Buffer).toString('utf8');
      seen += (chunk as Buffer).length;
      const lines = s.split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) {
        lineNo++;
        if (line.length > 4096) {
          // Long lines are data (extended INSERTs); the header has ended.
          dataStarted = true;
          break;
        }
        const g = GTID_RE.exec(line);
        if (g) gtid ??= g[1];
        const m = found ? null : COORD_RE.exec(line);
        if (m) found = { file: m[1] as string, pos: Number(m[2]), line: lineNo };
        if (/^\s*(INSERT INTO|CREATE TABLE)\b/i.test(line)) {
          dataStarted = true;
          break;
        }
      }
      if (dataStarted || seen > MAX_HEAD_BYTES) break;
    }
  } catch (err) {
    throw new OnedumpError(`${label} ${unreadable} (${(err as Error).message}).`, { cause: err });
  } finally {
    text.destroy();
  }
  if (!found && carry && COORD_RE.test(carry)) {
    const m = COORD_RE.exec(carry) as RegExpExecArray;
    found = { file: m[1] as string, pos: Number(m[2]), line: lineNo + 1 };
  }
  if (!found) {
    throw new UsageError(
      `${label} records no binlog coordinates (no CHANGE MASTER TO MASTER_LOG_FILE… or CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE… line in its header); make dumps with --master-data=2 (MySQL 8.0.26+: --source-data=2), or give --start-binlog and --start-position.`,
    );
  }
  if (gtid !== undefined) found.gtid = gtid;
  return found;
}

async function compressionOfFile(path: string): Promise<'gzip' | 'zstd' | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `the dump file ${path} does not exist.` : `the dump file ${path} cannot be opened (${code}).`);
  }
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    return compressionByMagic(b.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}
