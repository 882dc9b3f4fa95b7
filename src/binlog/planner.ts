import { stat } from 'node:fs/promises';
import { OnedumpError, UsageError } from '../util/errors.js';
import { formatLocal } from './datetime.js';
import { binlogChainFrom, binlogsFrom, listBinlogFiles, splitBinlogName, type BinlogFileRef } from './files.js';
import { EventType } from './event-types.js';
import { readBinlog } from './reader.js';

export interface StopPosition {
  /** The binlog the position is in; without it, the last binlog of the folder (as mysqlbinlog applies --stop-position to the last file). */
  file?: string;
  pos: number;
}

export interface PlanInput {
  dir: string;
  startFile: string;
  /** Defaults to 4, the first event after the magic number; 0 means the same (the Go tool's default). */
  startPos?: number;
  /** Epoch seconds; replay stops before the first event whose timestamp is at or after it (mysqlbinlog's rule). */
  stopDatetime?: number;
  stopPosition?: StopPosition;
  verifyChecksums?: boolean;
  /**
   * `onedump restore --until`: refuse a stop time outside what the binlogs can restore to (after their last event,
   * or past a missing file), with that window in the message, instead of replaying all there is (mysqlbinlog's and
   * the Go tool's `binlog restore` behaviour, kept there).
   */
  window?: boolean;
}

export interface PlannedFile {
  name: string;
  path: string;
  /** --start-position for this file (only the first file has one other than 4). */
  start: number;
  /** --stop-position for this file (exclusive), when replay stops inside it. */
  stop?: number;
}

export interface EventRef {
  file: string;
  pos: number;
  timestamp: number;
  type: string;
}

export interface ReplayPlan {
  /** The files to replay in order; empty when there is nothing to replay. */
  files: PlannedFile[];
  start: { file: string; pos: number };
  /** Where replay stops (the first event not replayed), or undefined to replay to the end of the last file. */
  stop?: EventRef & { reason: 'datetime' | 'position' };
  /** Events that will be replayed, and the first and last of them. */
  events: number;
  first?: EventRef;
  last?: EventRef;
  /** Sentences for the user (e.g. "the stop time is after the last event; replaying everything"). */
  notes: string[];
}

/**
 * Plans a point-in-time replay: reads every binlog from the start position on (verifying checksums, so a corrupt or
 * truncated file fails before anything is applied) and finds the stop position. mysqlbinlog --stop-datetime stops at
 * the first event, in file order and counting every event type, whose header timestamp is at or after the stop time;
 * this does the same, so passing the resulting --stop-position replays exactly what --stop-datetime would. The GTID
 * (MariaDB) or commit event of a transaction carries its commit time while the inner events carry statement times, so
 * a transaction that committed at or after the stop time is left out whole.
 */
export async function planReplay(input: PlanInput): Promise<ReplayPlan> {
  // 0 is the Go tool's default and mysqlbinlog reads it as the start of the file, like 4.
  const startPos = input.startPos === undefined || input.startPos === 0 ? 4 : input.startPos;
  if (!Number.isInteger(startPos) || startPos < 4) throw new UsageError(`the start position must be 0 (the start of the file) or a whole number of at least 4 (got ${input.startPos}).`);
  const chain = input.window && input.stopDatetime !== undefined ? await binlogChainFrom(input.dir, input.startFile) : { files: await binlogsFrom(input.dir, input.startFile) };
  let files = chain.files;
  const stopPos = input.stopPosition;
  let stopFile: BinlogFileRef | undefined;
  if (stopPos) {
    if (!Number.isInteger(stopPos.pos) || stopPos.pos < 4) throw new UsageError(`the stop position must be a whole number of at least 4 (got ${stopPos.pos}).`);
    if (stopPos.file) {
      const i = files.findIndex((f) => f.name === stopPos.file);
      if (i < 0) throw new UsageError(`the stop binlog ${stopPos.file} is not among the binlogs from ${input.startFile} on in ${input.dir}.`);
      files = files.slice(0, i + 1);
    }
    stopFile = files[files.length - 1];
    if (stopFile === files[0] && stopPos.pos < startPos) {
      throw new UsageError(`the stop position ${stopPos.pos} is before the start position ${startPos} in ${input.startFile}.`);
    }
  }
  const plan: ReplayPlan = { files: [], start: { file: input.startFile, pos: startPos }, events: 0, notes: [] };
  const T = input.stopDatetime;
  outer: for (let i = 0; i < files.length; i++) {
    const f = files[i] as BinlogFileRef;
    const from = i === 0 ? startPos : 4;
    const planned: PlannedFile = { name: f.name, path: f.path, start: from };
    const posLimit = f === stopFile ? stopPos?.pos : undefined;
    let stopped: (EventRef & { reason: 'datetime' | 'position' }) | undefined;
    for await (const ev of readBinlog(f.path, { start: from, verifyChecksums: input.verifyChecksums ?? true })) {
      const ref: EventRef = { file: f.name, pos: ev.pos, timestamp: ev.timestamp, type: ev.typeName };
      if (posLimit !== undefined && ev.pos >= posLimit) {
        if (ev.pos !== posLimit) {
          throw new UsageError(`the stop position ${posLimit} is not an event boundary in ${f.name} (events start at ${plan.last?.pos ?? from} and ${ev.pos}).`);
        }
        stopped = { ...ref, reason: 'position' };
        break;
      }
      if (T !== undefined && ev.timestamp >= T) {
        stopped = { ...ref, reason: 'datetime' };
        break;
      }
      plan.events++;
      plan.first ??= ref;
      plan.last = ref;
    }
    if (!stopped && posLimit !== undefined) {
      const size = (await stat(f.path)).size;
      if (posLimit > size) throw new UsageError(`the stop position ${posLimit} is past the end of ${f.name} (${size} bytes).`);
      stopped = { file: f.name, pos: posLimit, timestamp: plan.last?.timestamp ?? 0, type: 'end of file', reason: 'position' };
    }
    if (stopped) {
      plan.stop = stopped;
      // A stop at a file's first event means that file contributes nothing.
      if (stopped.pos > from) plan.files.push({ ...planned, stop: stopped.pos });
      break outer;
    }
    plan.files.push(planned);
  }
  if (T !== undefined && plan.stop?.reason === 'datetime' && plan.events === 0) {
    // Nothing after the starting point happened before T. The starting point (a dump's snapshot) is the state at T
    // unless it already holds a change made at or after T: then T is before the snapshot and only an older dump helps.
    const s = plan.stop;
    const before = await lastChangeBefore(input.dir, input.startFile, startPos, T, input.verifyChecksums ?? true);
    if (before.kind === 'newer') {
      const e = before.event;
      throw new OnedumpError(
        `the stop time ${formatLocal(T)} is before the starting point: it already holds a change from ${formatLocal(e.timestamp)} (${e.type} in ${e.file} at ${e.pos}, before the start ${input.startFile}:${startPos}), so use an older dump.`,
      );
    }
    if (before.kind === 'unknown') {
      throw new OnedumpError(
        `the stop time ${formatLocal(T)} is before ${before.file} began (${formatLocal(before.opened)}) and the binlog before it is not in ${input.dir}, so whether the starting point ${input.startFile}:${startPos} is already past that time cannot be told; add that binlog, or use an older dump.`,
      );
    }
    plan.files = [];
    plan.notes.push(
      `the stop time ${formatLocal(T)} is before the first event after the starting point (${s.file} at ${s.pos}, ${formatLocal(s.timestamp)}) and after the last change before it${before.event ? ` (${formatLocal(before.event.timestamp)})` : ''}: the starting point is the state at that time, so there is nothing to replay.`,
    );
    return plan;
  }
  // Timestamps are whole seconds: up to the end of the last event's second the state is that after the last event;
  // later than that (or past a missing file) it is not known.
  if (T !== undefined && !plan.stop && input.window && (chain.gap || T > (plan.last?.timestamp ?? 0) + 1)) {
    const end = plan.last ? `${formatLocal(plan.last.timestamp)} (${plan.last.file} at ${plan.last.pos})` : `the starting point ${input.startFile}:${startPos}`;
    const gap = chain.gap ? `, after which ${chain.gap.after} is followed by ${chain.gap.before}: the binlogs between them are missing` : '';
    throw new OnedumpError(
      `the stop time ${formatLocal(T)} is outside what these binlogs can restore to: from the dump's snapshot (${input.startFile}:${startPos}) up to ${end}${gap}; restore to an instant in that window (at most ${formatLocal((plan.last?.timestamp ?? 0) + 1)})${chain.gap ? ', or add the missing binlogs' : ', or ship newer binlogs first (binlog sync)'}.`,
    );
  }
  if (T !== undefined && !plan.stop) {
    const where = plan.last ? ` (${plan.last.file} at ${plan.last.pos}, ${formatLocal(plan.last.timestamp)})` : '';
    plan.notes.push(`the stop time ${formatLocal(T)} is after the last event${where}; replaying everything.`);
  }
  if (plan.events === 0) {
    plan.files = [];
    plan.notes.push('there is nothing to replay: the start and stop positions are the same.');
  }
  return plan;
}

/** Bookkeeping events: they open, close or describe a file and change no data. */
const NOT_CHANGES = new Set<number>([
  EventType.START_V3,
  EventType.STOP,
  EventType.ROTATE,
  EventType.FORMAT_DESCRIPTION,
  EventType.PREVIOUS_GTIDS,
  EventType.MARIADB_BINLOG_CHECKPOINT,
  EventType.MARIADB_GTID_LIST,
  EventType.MARIADB_START_ENCRYPTION,
  26, // Incident
  27, // Heartbeat
  41, // Heartbeat_v2
]);

type Before =
  | { kind: 'older'; event?: EventRef }
  | { kind: 'newer'; event: EventRef }
  | { kind: 'unknown'; file: string; opened: number };

/**
 * Whether the starting point holds a change made at or after T: the newest-stamped change before the start position
 * in the start file, or else (the file holds none before it) in the binlogs before, walking back until one is found
 * or a file was opened before T (everything before that file is older than T).
 */
async function lastChangeBefore(dir: string, startFile: string, startPos: number, T: number, verifyChecksums: boolean): Promise<Before> {
  const all = await listBinlogFiles(dir);
  const start = splitBinlogName(startFile);
  const series = all.filter((f) => f.prefix === start?.prefix);
  let i = series.findIndex((f) => f.name === startFile);
  for (let limit: number | undefined = startPos; i >= 0; i--, limit = undefined) {
    const f = series[i] as BinlogFileRef;
    let newest: EventRef | undefined;
    let opened: number | undefined;
    for await (const ev of readBinlog(f.path, { verifyChecksums })) {
      if (limit !== undefined && ev.pos >= limit) {
        opened ??= ev.timestamp;
        break;
      }
      if (ev.type === EventType.FORMAT_DESCRIPTION) opened ??= ev.timestamp;
      if (NOT_CHANGES.has(ev.type)) continue;
      if (!newest || ev.timestamp >= newest.timestamp) newest = { file: f.name, pos: ev.pos, timestamp: ev.timestamp, type: ev.typeName };
    }
    if (newest) return newest.timestamp >= T ? { kind: 'newer', event: newest } : { kind: 'older', event: newest };
    if (opened !== undefined && opened < T) return { kind: 'older' };
    const prev = series[i - 1];
    if (!prev || prev.seq !== f.seq - 1) return { kind: 'unknown', file: f.name, opened: opened ?? 0 };
  }
  return { kind: 'older' };
}

/**
 * mysqlbinlog invocations for a plan: at most 10 files each (the Go tool's limit, which keeps the argument list
 * short), --start-position on the first file and --stop-position on the last, since mysqlbinlog applies those
 * options to the first and last file it is given.
 */
export function mysqlbinlogRuns(plan: ReplayPlan, maxFiles = 10): string[][] {
  const runs: string[][] = [];
  const files = plan.files;
  for (let i = 0; i < files.length; i += maxFiles) {
    const chunk = files.slice(i, i + maxFiles);
    const args: string[] = [];
    const first = chunk[0] as PlannedFile;
    const last = chunk[chunk.length - 1] as PlannedFile;
    if (i === 0 && first.start > 4) args.push(`--start-position=${first.start}`);
    if (i + maxFiles >= files.length && last.stop !== undefined) args.push(`--stop-position=${last.stop}`);
    args.push(...chunk.map((f) => f.path));
    runs.push(args);
  }
  return runs;
}
