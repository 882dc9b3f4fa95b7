import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Aggregator, type AggregatorState } from './aggregate.js';
import type { SlowEntry } from './entry.js';
import { INHERITED_DB, SlowLogParser } from './parser.js';
import { describe, forEachLine, openLogText, SlowLogError } from './source.js';

export interface EntryFilter {
  /** Microseconds since the epoch, inclusive. */
  since?: number;
  /** Microseconds since the epoch, inclusive. */
  until?: number;
  user?: string;
  db?: string;
  /** Matches the host name or the IP address. */
  host?: string;
}

/** One file, or a byte range of a plain file that starts at an entry's first line. */
export interface PartTask {
  file: string;
  start: number;
  /** Exclusive; undefined = to the end of the file. */
  end?: number;
  filter: EntryFilter;
}

export interface PartResult {
  /** Entries read, including those the filters left out. */
  entries: number;
  filtered: number;
  skipped: number;
  /** Entries whose database is known inside this part. */
  known: AggregatorState;
  /** Entries (a prefix of the part) whose database comes from before the part; only for parts with start > 0. */
  inherited: AggregatorState;
  /** The database the next part of the file starts with (INHERITED_DB when this part never set one). */
  endDb: string;
  /** The part must be read again in sequence (see SlowLogParser.timeInheritedFromUnseen). */
  needsSequence: boolean;
}

/** Reads one part. Throws SlowLogError when the file cannot be read. */
export async function readPart(task: PartTask): Promise<PartResult> {
  const known = new Aggregator();
  const inherited = new Aggregator();
  const { accept, db } = entryFilter(task.filter);
  let entries = 0;
  let filtered = 0;
  let skipped = 0;
  const parser = new SlowLogParser(
    {
      entry(entry: SlowEntry): void {
        entries++;
        if (!accept(entry)) filtered++;
        else if (entry.db === INHERITED_DB) inherited.add(entry);
        else if (db && entry.db !== db) filtered++;
        else known.add(entry);
      },
      skipped(): void {
        skipped++;
      },
    },
    task.start > 0 ? INHERITED_DB : '',
  );
  const text = await openLogText(task.file, task.start, task.end);
  try {
    await forEachLine(text, (line) => parser.line(line));
  } catch (err) {
    (text as Partial<Readable>).destroy?.();
    throw new SlowLogError(`Cannot read ${task.file}: ${describe(err)}; check that the file is a complete slow log.`);
  }
  parser.end();
  return {
    entries,
    filtered,
    skipped,
    known: known.state(),
    inherited: inherited.state(),
    endDb: parser.currentDb,
    needsSequence: parser.timeInheritedFromUnseen,
  };
}

/**
 * Adds the parts of one file, in file order, to `aggregator`; returns the counts. The entries of a
 * part that inherited their database get the database the previous parts ended with.
 */
export function mergeParts(
  aggregator: Aggregator,
  parts: PartResult[],
  filter: EntryFilter,
): { entries: number; filtered: number; skipped: number } {
  let db = '';
  let entries = 0;
  let filtered = 0;
  let skipped = 0;
  for (const part of parts) {
    entries += part.entries;
    filtered += part.filtered;
    skipped += part.skipped;
    if (part.inherited.entries > 0) {
      if (filter.db && db !== filter.db) filtered += part.inherited.entries;
      else aggregator.merge(part.inherited, db);
    }
    aggregator.merge(part.known);
    if (part.endDb !== INHERITED_DB) db = part.endDb;
  }
  return { entries, filtered, skipped };
}

function entryFilter(filter: EntryFilter): { accept: (entry: SlowEntry) => boolean; db?: string } {
  const { since, until, user, host } = filter;
  if (since === undefined && until === undefined && !user && !host) return { accept: () => true, db: filter.db };
  return {
    db: filter.db,
    accept: (entry) => {
      if (since !== undefined && !(entry.timeMicros >= since)) return false;
      if (until !== undefined && !(entry.timeMicros <= until)) return false;
      if (user && entry.userName !== user) return false;
      if (host && entry.host !== host && !entry.hostIp.endsWith(`[${host}]`)) return false;
      return true;
    },
  };
}

const WINDOW = 1 << 20;
/** How far past a candidate cut its header block is read to find its `# Query_time:` line. */
const HEADER_WINDOW = 64 << 10;
const TIME = Buffer.from('\n# Time:');
const USER_HOST = Buffer.from('\n# User@Host:');
const QUERY_TIME = Buffer.from('# Query_time:');

/**
 * Offsets at which to cut a plain file into about `parts` parts: each is the start of an entry's
 * first line (`# Time:`, or `# User@Host:` when no `# Time:` line precedes it), so every part
 * holds whole entries. Statement literals can hold such lines (see SlowLogParser), so a cut is only
 * made where the line before ends with `;` (every statement does) and the `#` block from there on
 * holds a `# Query_time:` line: where the parser reading the whole file starts an entry too.
 */
export async function splitOffsets(file: string, size: number, parts: number): Promise<number[]> {
  const handle = await open(file, 'r');
  try {
    const offsets: number[] = [];
    for (let k = 1; k < parts; k++) {
      const from = Math.max(Math.floor((size * k) / parts), (offsets[offsets.length - 1] ?? 0) + 1);
      const at = await entryStartAtOrAfter(handle, from, size);
      if (at >= size) break;
      if (at > (offsets[offsets.length - 1] ?? 0)) offsets.push(at);
    }
    return offsets;
  } finally {
    await handle.close();
  }
}

type Handle = Awaited<ReturnType<typeof open>>;

async function entryStartAtOrAfter(handle: Handle, from: number, size: number): Promise<number> {
  const buf = Buffer.alloc(WINDOW);
  // Start one byte early so that a line starting exactly at `from` is found by its preceding '\n'.
  for (let pos = from - 1; pos < size; pos += WINDOW - USER_HOST.length) {
    const { bytesRead } = await handle.read(buf, 0, WINDOW, pos);
    const window = buf.subarray(0, bytesRead);
    let time = window.indexOf(TIME);
    let user = window.indexOf(USER_HOST);
    while (time >= 0 || user >= 0) {
      const isTime = time >= 0 && (user < 0 || time < user);
      const at = pos + (isTime ? time : user) + 1;
      // `# Time:` then `# User@Host:` is one entry: the cut goes before the `# Time:` line, which
      // was looked at first, so a `# User@Host:` line after one is never a cut of its own.
      if (isTime || !(await followsTimeLine(handle, at))) {
        if (await isEntryStart(handle, at, size)) return at;
      }
      if (isTime) time = window.indexOf(TIME, time + 1);
      else user = window.indexOf(USER_HOST, user + 1);
    }
    if (bytesRead < WINDOW) return size;
  }
  return size;
}

/** Whether the line before the one starting at `at` is a `# Time:` line. */
async function followsTimeLine(handle: Handle, at: number): Promise<boolean> {
  const before = Buffer.alloc(Math.min(512, at));
  await handle.read(before, 0, before.length, at - before.length);
  const newline = before.lastIndexOf(0x0a, before.length - 2);
  if (newline < 0 && before.length < at) return false; // the previous line is longer than a `# Time:` line
  const lineStart = newline + 1;
  return before.subarray(lineStart, lineStart + 7).toString('latin1') === '# Time:';
}

/** The line before `at` ends with `;` and the `#` lines from `at` on hold a `# Query_time:` line. */
async function isEntryStart(handle: Handle, at: number, size: number): Promise<boolean> {
  if (at < 2) return at === 0;
  const tail = Buffer.alloc(Math.min(3, at));
  await handle.read(tail, 0, tail.length, at - tail.length);
  // tail ends with '\n'; before it ';' or ';\r'.
  const end = tail.length - 2;
  const last = tail[end] === 0x0d && end > 0 ? tail[end - 1] : tail[end];
  if (last !== 0x3b) return false;
  const head = Buffer.alloc(Math.min(HEADER_WINDOW, size - at));
  const { bytesRead } = await handle.read(head, 0, head.length, at);
  for (let line = 0; line < bytesRead;) {
    if (head[line] !== 0x23 /* # */) return false;
    if (head.subarray(line, line + QUERY_TIME.length).equals(QUERY_TIME)) return true;
    const nl = head.indexOf(0x0a, line);
    if (nl < 0) return false;
    line = nl + 1;
  }
  return false;
}
