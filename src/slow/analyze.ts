import { stat } from 'node:fs/promises';
import { Aggregator } from './aggregate.js';
import { mergeParts, readPart, splitOffsets, type EntryFilter, type PartResult, type PartTask } from './part.js';
import { defaultThreads, maxThreads, readParts } from './pool.js';
import { buildReport, type SlowReport, type SortKey } from './report.js';
import { describe, isGzipFile, listInputFiles, SlowLogError } from './source.js';

export type { EntryFilter } from './part.js';

export interface AnalyzeOptions {
  pattern?: string;
  /** 0 = no limit. */
  limit: number;
  mask: boolean;
  sort: SortKey;
  filter: EntryFilter;
  /** Threads reading files and parts of files (this one and threads - 1 workers); capped at one per core, at most 4. Default 1. */
  threads?: number;
  /** A plain file is cut into parts of about this size (at least two) for the threads. Default 32 MiB. */
  partBytes?: number;
  /**
   * For a folder: group each file apart and list the groups of all files together, as the Go tool
   * does (a statement in three files is three results). Default false: one merged set of groups.
   */
  perFile?: boolean;
  /** The Go tool's file selection (see listInputFiles): `-p` ignored for a file, an empty folder is no error. */
  goTool?: boolean;
}

const PART_BYTES = 32 << 20;

/**
 * Reads a slow log (plain or gzip) or a folder of them and groups the entries by fingerprint.
 * Throws SlowLogError for what stops the analysis: an unreadable path, a corrupt gzip, an empty folder.
 *
 * Files, and parts of large plain files, are read on worker threads; their per-fingerprint results
 * are merged in file order, so the report is the same as reading everything in one thread.
 */
export async function analyzeSlowLogs(path: string, options: AnalyzeOptions): Promise<SlowReport> {
  const files = await listInputFiles(path, options.pattern, options.goTool);
  const threads = Math.max(1, Math.min(options.threads ?? defaultThreads(), maxThreads()));
  const partBytes = options.partBytes ?? PART_BYTES;
  const filter = options.filter;

  const tasks: PartTask[] = [];
  const fileOfTask: number[] = [];
  for (const [index, file] of files.entries()) {
    for (const task of await planFile(file, threads, partBytes, filter)) {
      tasks.push(task);
      fileOfTask.push(index);
    }
  }

  const aggregators = options.perFile ? files.map(() => new Aggregator()) : [new Aggregator()];
  let entries = 0;
  let filtered = 0;
  let skipped = 0;
  // Results arrive in any order; each file is merged once all its parts are in, files in order.
  const arrived = new Map<number, PartResult>();
  let nextTask = 0;
  let merging = Promise.resolve();
  const consume = (index: number, result: PartResult): Promise<void> => {
    arrived.set(index, result);
    merging = merging.then(async () => {
      while (nextTask < tasks.length) {
        const file = fileOfTask[nextTask]!;
        let end = nextTask;
        while (end < tasks.length && fileOfTask[end] === file) end++;
        const parts: PartResult[] = [];
        for (let i = nextTask; i < end && arrived.has(i); i++) parts.push(arrived.get(i)!);
        if (parts.length < end - nextTask) return;
        for (let i = nextTask; i < end; i++) arrived.delete(i);
        nextTask = end;
        // An entry with no time at all took its time from before its part: read the file in sequence.
        const inOrder = parts.some((p) => p.needsSequence) ? [await readPart({ file: files[file]!, start: 0, filter })] : parts;
        const counts = mergeParts(aggregators[options.perFile ? file : 0]!, inOrder, filter);
        entries += counts.entries;
        filtered += counts.filtered;
        skipped += counts.skipped;
      }
    });
    return merging;
  };
  await readParts(tasks, threads, consume);
  await merging;

  return buildReport(options.perFile ? aggregators : aggregators[0]!, {
    entries,
    filtered,
    skipped,
    files: files.length,
    limit: options.limit,
    mask: options.mask,
    sort: options.sort,
  });
}

/** One task per file, or several for a large plain file when there are threads to share them. */
async function planFile(file: string, threads: number, partBytes: number, filter: EntryFilter): Promise<PartTask[]> {
  const whole = [{ file, start: 0, filter }];
  if (threads <= 1) return whole;
  let size: number;
  let gzipped: boolean;
  try {
    size = (await stat(file)).size;
    gzipped = await isGzipFile(file);
  } catch (err) {
    throw new SlowLogError(`Cannot read ${file}: ${describe(err)}; check the path and its permissions.`);
  }
  // gzip cannot be cut; its inflating already runs on libuv's thread pool, beside the parsing.
  if (gzipped || size < 2 * partBytes) return whole;
  const offsets = await splitOffsets(file, size, Math.min(Math.floor(size / partBytes), threads * 4));
  const bounds = [0, ...offsets];
  return bounds.map((start, i) => ({ file, start, end: bounds[i + 1], filter }));
}
