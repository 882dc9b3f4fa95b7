import { Aggregator } from './aggregate.js';
import type { SlowEntry } from './entry.js';
import { SlowLogParser } from './parser.js';
import { buildReport, type SlowReport, type SortKey } from './report.js';
import { describe, forEachLine, listInputFiles, openLogText, SlowLogError } from './source.js';

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

export interface AnalyzeOptions {
  pattern?: string;
  /** 0 = no limit. */
  limit: number;
  mask: boolean;
  sort: SortKey;
  filter: EntryFilter;
  /** Files read at the same time when `path` is a folder. */
  concurrency?: number;
}

/**
 * Reads a slow log (plain or gzip) or a folder of them and groups the entries by fingerprint.
 * Throws SlowLogError for what stops the analysis: an unreadable path, a corrupt gzip, an empty folder.
 */
export async function analyzeSlowLogs(path: string, options: AnalyzeOptions): Promise<SlowReport> {
  const files = await listInputFiles(path, options.pattern);
  const aggregator = new Aggregator();
  const accept = entryFilter(options.filter);
  let skipped = 0;
  let filtered = 0;
  const sink = {
    entry(entry: SlowEntry): void {
      if (accept(entry)) aggregator.add(entry);
      else filtered++;
    },
    skipped(): void {
      skipped++;
    },
  };

  // Reading several files at once overlaps their I/O and gunzip; parsing shares the one thread.
  const queue = [...files];
  const concurrency = Math.max(1, Math.min(options.concurrency ?? 4, queue.length));
  const readers = Array.from({ length: concurrency }, async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      await readOneFile(file, sink);
    }
  });
  await Promise.all(readers);

  return buildReport(aggregator, {
    entries: aggregator.entries + filtered,
    filtered,
    skipped,
    files: files.length,
    limit: options.limit,
    mask: options.mask,
    sort: options.sort,
  });
}

async function readOneFile(file: string, sink: ConstructorParameters<typeof SlowLogParser>[0]): Promise<void> {
  const parser = new SlowLogParser(sink);
  const text = await openLogText(file);
  try {
    await forEachLine(text, (line) => parser.line(line));
  } catch (err) {
    text.destroy();
    throw new SlowLogError(`Cannot read ${file}: ${describe(err)}; check that the file is a complete slow log.`);
  }
  parser.end();
}

function entryFilter(filter: EntryFilter): (entry: SlowEntry) => boolean {
  const { since, until, user, db, host } = filter;
  if (since === undefined && until === undefined && !user && !db && !host) return () => true;
  return (entry) => {
    if (since !== undefined && !(entry.timeMicros >= since)) return false;
    if (until !== undefined && !(entry.timeMicros <= until)) return false;
    if (user && entry.userName !== user) return false;
    if (db && entry.db !== db) return false;
    if (host && entry.host !== host && !entry.hostIp.endsWith(`[${host}]`)) return false;
    return true;
  };
}
