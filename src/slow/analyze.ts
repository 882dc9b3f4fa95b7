import { stat } from 'node:fs/promises';
import { Aggregator } from './aggregate.js';
import { mergeParts, readPart, splitOffsets, type EntryFilter, type PartResult, type PartTask } from './part.js';
import { maxThreads, readParts } from './pool.js';
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
  /**
   * Threads reading files and parts of files (this one and threads - 1 workers); capped at one per
   * core, at most 4. Default 'auto': one per core for inputs of AUTO_THREADS_MIN_BYTES or more, else 1.
   */
  threads?: number | 'auto';
  /**
   * A plain file is cut into parts of about this size (at least two) for the threads, at most four
   * per thread. Default: one part per thread (see partCount).
   */
  partBytes?: number;
  /**
   * For a folder: group each file apart and list the groups of all files together, as the Go tool
   * does (a statement in three files is three results). Default false: one merged set of groups.
   */
  perFile?: boolean;
  /** Bound of each worker's heap in MiB (tests); a part that does not fit is read in this thread. */
  workerHeapMb?: number;
  /** The Go tool's file selection (see listInputFiles): `-p` ignored for a file, an empty folder is no error. */
  goTool?: boolean;
}

/** A plain file smaller than this is never cut into parts: a worker's start costs more than it saves. */
export const AUTO_MIN_BYTES = 32 << 20;
/**
 * With threads 'auto', inputs smaller than this are read in this thread. Measured on an idle 2-core machine (bundle,
 * the single executable's V8 flags; bench/slow.sh's varied log): 100 MB took 2.15 s in one thread and 1.86-2.24 s in
 * two, for 205 MB peak RSS instead of 150 MB; the same log four times over (400 MB) 6.81 s against 4.97 s (1.37x) at
 * 224 MB. Below this size a second thread buys nothing worth its ~55 MB.
 */
export const AUTO_THREADS_MIN_BYTES = 256 << 20;
/** A gzip file counts as this many times its size (slow logs compress about 5-10x). */
const GZIP_FACTOR = 4;
/** Past threads parts, a file is cut into parts of about this size (at most four per thread), so that a slow thread holds the others back less. */
const BALANCE_PART_BYTES = 256 << 20;

/**
 * Reads a slow log (plain or gzip) or a folder of them and groups the entries by fingerprint.
 * Throws SlowLogError for what stops the analysis: an unreadable path, a corrupt gzip, an empty folder.
 *
 * Files, and parts of large plain files, are read on worker threads; their per-fingerprint results
 * are merged in file order, so the report is the same as reading everything in one thread.
 */
export async function analyzeSlowLogs(path: string, options: AnalyzeOptions): Promise<SlowReport> {
  const files = await listInputFiles(path, options.pattern, options.goTool);
  const inputs = await Promise.all(files.map(inputInfo));
  const asked = options.threads ?? 'auto';
  const wanted =
    asked === 'auto' ? (inputs.reduce((n, f) => n + (f.gzipped ? f.size * GZIP_FACTOR : f.size), 0) >= AUTO_THREADS_MIN_BYTES ? maxThreads() : 1) : asked;
  const threads = Math.max(1, Math.min(wanted, maxThreads()));
  const filter = options.filter;

  const tasks: PartTask[] = [];
  const fileOfTask: number[] = [];
  for (const [index, input] of inputs.entries()) {
    for (const task of await planFile(input, threads, options.partBytes, filter)) {
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
  await readParts(tasks, threads, consume, options.workerHeapMb);
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

interface InputInfo {
  file: string;
  size: number;
  gzipped: boolean;
}

async function inputInfo(file: string): Promise<InputInfo> {
  try {
    return { file, size: (await stat(file)).size, gzipped: await isGzipFile(file) };
  } catch (err) {
    throw new SlowLogError(`Cannot read ${file}: ${describe(err)}; check the path and its permissions.`);
  }
}

/**
 * How many parts to cut a plain file of `size` bytes into for `threads` threads. By default one per
 * thread: each part's groups cross to this thread and are merged, so every part costs memory (on the
 * varied bench log, three parts for two threads peaked ~15 MB higher than two); files of more than
 * threads x BALANCE_PART_BYTES get up to four parts per thread so that the threads finish together.
 * With `partBytes` (tests), parts of about that size, at most four per thread.
 */
export function partCount(size: number, threads: number, partBytes?: number): number {
  if (threads <= 1) return 1;
  if (partBytes !== undefined) return Math.min(Math.floor(size / partBytes), threads * 4);
  if (size < AUTO_MIN_BYTES) return 1;
  return Math.max(threads, Math.min(threads * 4, Math.floor(size / BALANCE_PART_BYTES)));
}

/** One task per file, or several for a large plain file when there are threads to share them. */
async function planFile(input: InputInfo, threads: number, partBytes: number | undefined, filter: EntryFilter): Promise<PartTask[]> {
  const { file, size, gzipped } = input;
  const whole = [{ file, start: 0, filter }];
  // gzip cannot be cut; its inflating already runs on libuv's thread pool, beside the parsing.
  const parts = gzipped ? 1 : partCount(size, threads, partBytes);
  if (parts < 2) return whole;
  let offsets: number[];
  try {
    offsets = await splitOffsets(file, size, parts);
  } catch (err) {
    throw new SlowLogError(`Cannot read ${file}: ${describe(err)}; check the path and its permissions.`);
  }
  const bounds = [0, ...offsets];
  return bounds.map((start, i) => ({ file, start, end: bounds[i + 1], filter }));
}
