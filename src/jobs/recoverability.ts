import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { JobConfig } from '../config/schema.js';
import type { Storage } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { storageFromUrl } from '../storage/registry.js';
import { splitBinlogName } from '../binlog/files.js';
import { readBinlog } from '../binlog/reader.js';
import { errorMessage } from '../util/errors.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { silentLogger } from '../util/logger.js';
import { listBackups, type CatalogEntry } from './catalog.js';
import { jobBackupsIn, namingOf } from './naming.js';
import { applyRetention, type RetentionResult } from './retention.js';
import type { PreparedJob } from './job.js';

/** One binlog file stored at a destination (`prefix.NNNNNN`, directly in the folder). */
export interface StoredBinlog {
  key: string;
  name: string;
  /** mysql-bin.000042 → base "mysql-bin", seq 42. */
  base: string;
  seq: number;
  size: number;
}

/** The binlog files in a folder of a storage, by series then sequence number; anything else is left out. */
export async function listStoredBinlogs(storage: Storage, prefix: string, signal?: AbortSignal): Promise<StoredBinlog[]> {
  const out: StoredBinlog[] = [];
  for await (const o of storage.list(prefix)) {
    if (signal?.aborted) throw signal.reason;
    const name = o.key.slice(prefix.length);
    if (name.includes('/')) continue;
    const s = splitBinlogName(name);
    if (s) out.push({ key: o.key, name, base: s.prefix, seq: s.seq, size: o.size });
  }
  return out.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : a.seq - b.seq));
}

/** Where a job's binlogs are (its `binlogs:`), opened; undefined when the job does not say. */
export function openJobBinlogs(job: JobConfig, log: Logger): { storage: Storage; prefix: string; location: string } | undefined {
  if (!job.binlogs) return undefined;
  const t = storageFromUrl(job.binlogs.url, { log });
  const prefix = t.key === '' || t.key.endsWith('/') ? t.key : `${t.key}/`;
  return { storage: t.storage, prefix, location: t.storage.describe(prefix) };
}

export interface BinlogPrunePlan {
  /** Per binlog series, the oldest file a kept dump starts from (what must stay, with everything after it). */
  needed: Array<{ base: string; file: string; seq: number; dump: string }>;
  delete: Array<{ key: string; name: string; reason: string }>;
  /** Why nothing (or less) could be pruned. */
  notes: string[];
}

/**
 * Which stored binlog files no kept dump needs: those of a series a kept dump starts from, numbered below the oldest
 * such start (a dump that is kept keeps its whole chain, from its own file on). Files of a series no kept dump names
 * are kept. A kept dump whose manifest cannot be read stops binlog pruning (what it needs is unknown); a dump without
 * binlog coordinates cannot start a replay, so it holds nothing back.
 */
export function planBinlogPrune(stored: StoredBinlog[], kept: CatalogEntry[]): BinlogPrunePlan {
  const notes: string[] = [];
  const unreadable = kept.filter((d) => d.manifestError);
  if (unreadable.length) {
    return { needed: [], delete: [], notes: [`the manifest of ${unreadable[0]!.location} cannot be read (${unreadable[0]!.manifestError}), so which binlogs it needs is unknown: no binlog deleted`] };
  }
  const needed = new Map<string, { base: string; file: string; seq: number; dump: string }>();
  for (const d of kept) {
    const file = d.manifest?.binlog?.file;
    const s = file ? splitBinlogName(file) : undefined;
    if (!file || !s) continue;
    const cur = needed.get(s.prefix);
    if (!cur || s.seq < cur.seq) needed.set(s.prefix, { base: s.prefix, file, seq: s.seq, dump: d.location });
  }
  if (!needed.size) notes.push(kept.length ? 'no kept dump has binlog coordinates: no binlog deleted' : 'no kept dump: no binlog deleted');
  const del: BinlogPrunePlan['delete'] = [];
  for (const b of stored) {
    const n = needed.get(b.base);
    if (n && b.seq < n.seq) del.push({ key: b.key, name: b.name, reason: `older than ${n.file}, where the oldest kept dump (${n.dump}) starts` });
  }
  return { needed: [...needed.values()], delete: del, notes };
}

/** The backups of each of a job's destinations (what `onedump ls -c` shows). */
export async function listJobBackups(p: PreparedJob, signal?: AbortSignal): Promise<Array<{ destination: string; location: string; backups: CatalogEntry[]; error?: string }>> {
  const out = [];
  for (const t of p.targets) {
    const d = t.build();
    const { dir, accept } = jobBackupsIn(t.configuredKey, p.job);
    try {
      out.push({ destination: t.name, location: t.location, backups: await listBackups(d.storage, dir, { accept, signal }) });
    } catch (err) {
      out.push({ destination: t.name, location: t.location, backups: [], error: errorMessage(err) });
    } finally {
      await d.storage.close?.();
    }
  }
  return out;
}

export interface BinlogPruneResult extends BinlogPrunePlan {
  location: string;
  /** Set when the binlogs could not be pruned (a listing failed). */
  error?: string;
}

/** Deletes (or, with dryRun, lists) the binlogs at `storage`/`prefix` that none of `kept` needs. */
export async function pruneBinlogs(
  storage: Storage,
  prefix: string,
  kept: CatalogEntry[],
  opts: { dryRun?: boolean; log: Logger; signal?: AbortSignal },
): Promise<BinlogPruneResult> {
  const location = storage.describe(prefix);
  const plan = planBinlogPrune(await listStoredBinlogs(storage, prefix, opts.signal), kept);
  for (const n of plan.notes) opts.log.info({ binlogs: location }, `binlog retention: ${n}`);
  if (!opts.dryRun) {
    for (const f of plan.delete) {
      await storage.delete(f.key);
      opts.log.info({ binlogs: location, deleted: storage.describe(f.key) }, `binlog retention: deleted ${storage.describe(f.key)} (${f.reason})`);
    }
  }
  return { ...plan, location };
}

export interface JobPruneResult {
  job: string;
  destinations: Array<RetentionResult & { keep?: unknown; error?: string }>;
  binlogs?: BinlogPruneResult;
}

/**
 * `onedump prune` for one job: retention at each destination that has `keep:` (the others keep everything), then,
 * when the job says where its binlogs are (`binlogs:` with prune on), the binlogs no kept dump needs. A destination
 * that cannot be listed stops binlog pruning: what it keeps is unknown.
 */
export async function pruneJob(p: PreparedJob, opts: { dryRun?: boolean; log: Logger; signal?: AbortSignal; binlogsOnly?: boolean }): Promise<JobPruneResult> {
  const { job } = p;
  const res: JobPruneResult = { job: job.name, destinations: [] };
  for (const t of p.targets) {
    const d = t.build();
    try {
      if (t.keep && !opts.binlogsOnly) {
        res.destinations.push({ ...(await applyRetention(d, t.configuredKey, { ...namingOf(job), keep: t.keep, log: opts.log, timeZone: job.timezone, dryRun: opts.dryRun, signal: opts.signal, manifests: Boolean(job.binlogs?.prune) })), keep: t.keep });
      } else {
        const { dir, accept } = jobBackupsIn(t.configuredKey, job);
        const backups = await listBackups(d.storage, dir, { accept, signal: opts.signal });
        res.destinations.push({
          destination: t.name,
          location: d.storage.describe(dir),
          decisions: backups.map((b) => ({ key: b.key, name: b.name, time: b.time, keep: true, reasons: [t.keep ? 'binlogs only' : 'no keep: at this destination'] })),
          deleted: [],
          kept: backups,
        });
      }
    } catch (err) {
      res.destinations.push({ destination: t.name, location: t.location, decisions: [], deleted: [], kept: [], keep: t.keep, error: errorMessage(err) });
    } finally {
      await d.storage.close?.();
    }
  }
  const bl = job.binlogs?.prune ? openJobBinlogs(job, opts.log) : undefined;
  if (bl) {
    try {
      const failed = res.destinations.find((d) => d.error);
      if (failed) res.binlogs = { location: bl.location, needed: [], delete: [], notes: [], error: `${failed.destination} could not be listed, so what it keeps is unknown: no binlog deleted` };
      else res.binlogs = await pruneBinlogs(bl.storage, bl.prefix, res.destinations.flatMap((d) => d.kept), opts);
    } catch (err) {
      res.binlogs = { location: bl.location, needed: [], delete: [], notes: [], error: errorMessage(err) };
    } finally {
      await bl.storage.close?.();
    }
  }
  return res;
}

// ---------------------------------------------------------------------------------------------------------------
// Recoverability window (`onedump status`)

export interface RecoveryWindow {
  /** The earliest instant of the window: the snapshot time (startedAt) of the oldest dump that starts it. */
  from: string;
  /** The latest instant: the last event of the last binlog file of the chain (or the dump's own time, without one). */
  to: string;
  /** The dump a restore to an instant of this window starts from (the newest one at or before it; this is the oldest). */
  dump: string;
  /** The binlog files replayed through, first and last (none: only the dump itself can be restored). */
  binlogs?: { first: string; last: string };
}

export interface BinlogGap {
  /** Missing files (`mysql-bin.000007`), or a file shorter than a dump's start position. */
  missing: string[];
  after?: string;
  before?: string;
  reason: string;
}

export interface Recoverability {
  newestBackup?: { name: string; location: string; time?: string };
  earliest?: string;
  latest?: string;
  windows: RecoveryWindow[];
  gaps: BinlogGap[];
  chain: Array<{ name: string; size: number }>;
  notes: string[];
}

interface DumpPoint {
  name: string;
  location: string;
  time: string;
  file?: string;
  base?: string;
  seq?: number;
  position?: number;
}

const seqName = (base: string, seq: number, width: number) => `${base}.${String(seq).padStart(width, '0')}`;

/**
 * What a job can be restored to, from its dumps (with their manifests' start coordinates) and the binlog files
 * stored. Each dump whose start file (long enough for its position) is stored, followed by consecutive files, gives a
 * window from its snapshot to the last event of the last consecutive file; a missing file splits the chain (the
 * files after it help only a dump that starts after it). `lastEventTime` reads a binlog's last event time.
 */
export async function computeRecoverability(
  dumps: CatalogEntry[],
  stored: StoredBinlog[] | undefined,
  lastEventTime: (b: StoredBinlog) => Promise<Date | undefined>,
): Promise<Recoverability> {
  const notes: string[] = [];
  const points: DumpPoint[] = [];
  const seen = new Set<string>();
  for (const d of dumps) {
    const time = d.manifest?.startedAt ?? d.time;
    if (!time) {
      notes.push(`${d.location}: its time is unknown`);
      continue;
    }
    // The same backup at several destinations is one restore point.
    const id = `${d.name}\0${time}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const c = d.manifest?.binlog;
    const s = c ? splitBinlogName(c.file) : undefined;
    points.push({ name: d.name, location: d.location, time, ...(c && s ? { file: c.file, base: s.prefix, seq: s.seq, position: c.position } : {}) });
  }
  points.sort((a, b) => a.time.localeCompare(b.time));
  const newest = points.length ? points[points.length - 1]! : undefined;
  const res: Recoverability = {
    newestBackup: newest ? { name: newest.name, location: newest.location, time: newest.time } : undefined,
    windows: [],
    gaps: [],
    chain: (stored ?? []).map((b) => ({ name: b.name, size: b.size })),
    notes,
  };
  const windows: RecoveryWindow[] = [];
  const pointOnly = (p: DumpPoint) => windows.push({ from: p.time, to: p.time, dump: p.location });
  if (!stored) {
    for (const p of points) pointOnly(p);
    if (points.some((p) => p.file)) notes.push('the job has no binlogs: setting, so only the dumps themselves can be restored');
  } else {
    const bases = new Set(points.filter((p) => p.base !== undefined).map((p) => p.base!));
    for (const p of points) if (p.base === undefined) pointOnly(p);
    for (const base of bases) {
      const files = new Map(stored.filter((b) => b.base === base).map((b) => [b.seq, b]));
      const mine = points.filter((p) => p.base === base);
      const width = Math.max(6, ...[...files.values()].map((b) => b.name.length - base.length - 1));
      const minSeq = Math.min(...mine.map((p) => p.seq!));
      const maxSeq = Math.max(...mine.map((p) => p.seq!), ...files.keys());
      // Missing files from the oldest dump's start on; files before it are not needed by anyone.
      let run: number[] = [];
      const flush = () => {
        if (run.length) {
          res.gaps.push({
            missing: run.map((s) => seqName(base, s, width)),
            after: files.has(run[0]! - 1) ? files.get(run[0]! - 1)!.name : undefined,
            before: files.has(run[run.length - 1]! + 1) ? files.get(run[run.length - 1]! + 1)!.name : undefined,
            reason: run.length === 1 ? 'missing from the destination' : `${run.length} files missing from the destination`,
          });
        }
        run = [];
      };
      for (let s = minSeq; s <= maxSeq; s++) {
        if (files.has(s)) flush();
        else run.push(s);
      }
      flush();
      // A stored file shorter than the position a dump starts at is an incomplete copy (the server's file had
      // reached that position): the chain through it ends there, and that dump cannot start a replay.
      const short = new Set<number>();
      for (const p of mine) {
        const f = files.get(p.seq!);
        if (f && f.size < p.position!) {
          if (!short.has(f.seq)) res.gaps.push({ missing: [f.name], reason: `${f.name} is ${f.size} bytes, shorter than position ${p.position} where ${p.location} starts` });
          short.add(f.seq);
        }
      }
      const usable = (p: DumpPoint): boolean => {
        const f = files.get(p.seq!);
        return Boolean(f && f.size >= p.position!);
      };
      // Chains: maximal runs of consecutive stored files (ending at a short one); each is a window from the oldest
      // usable dump starting in it.
      const seqs = [...files.keys()].sort((a, b) => a - b);
      const chains: Array<[number, number]> = [];
      for (const s of seqs) {
        const last = chains[chains.length - 1];
        if (last && s === last[1] + 1 && !short.has(last[1])) last[1] = s;
        else chains.push([s, s]);
      }
      const covered = new Set<DumpPoint>();
      for (const [a, b] of chains) {
        const starters = mine.filter((p) => p.seq! >= a && p.seq! <= b && usable(p));
        if (!starters.length) continue;
        for (const p of starters) covered.add(p);
        const first = starters[0]!;
        const lastFile = files.get(b)!;
        let end: Date | undefined;
        try {
          end = await lastEventTime(lastFile);
        } catch (err) {
          notes.push(`${lastFile.name} could not be read (${errorMessage(err)}): the window is taken to end at the newest dump in it`);
        }
        const newestStarter = starters[starters.length - 1]!;
        const to = end && end.toISOString() > newestStarter.time ? end.toISOString() : newestStarter.time;
        windows.push({ from: first.time, to, dump: first.location, binlogs: { first: files.get(first.seq!)!.name, last: lastFile.name } });
      }
      for (const p of mine) if (!covered.has(p)) pointOnly(p);
    }
  }
  // Merge windows that overlap (a dump whose time falls inside a chain's window adds nothing).
  windows.sort((a, b) => a.from.localeCompare(b.from) || b.to.localeCompare(a.to));
  for (const w of windows) {
    const last = res.windows[res.windows.length - 1];
    if (last && w.from <= last.to) {
      if (w.to > last.to) {
        last.to = w.to;
        if (w.binlogs) last.binlogs = { first: last.binlogs?.first ?? w.binlogs.first, last: w.binlogs.last };
      }
    } else res.windows.push({ ...w });
  }
  res.earliest = res.windows[0]?.from;
  res.latest = res.windows.reduce<string | undefined>((m, w) => (!m || w.to > m ? w.to : m), undefined);
  return res;
}

/** The time of the last event of a stored binlog (the file is downloaded to a temporary folder and read). */
export async function storedBinlogEnd(storage: Storage, b: StoredBinlog, signal?: AbortSignal): Promise<Date | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'onedump-status-'));
  try {
    const path = join(dir, b.name);
    await pipeline(await storage.get(b.key, { signal }), createWriteStream(path, { mode: 0o600 }));
    let max = 0;
    for await (const ev of readBinlog(path, { verifyChecksums: false })) if (ev.timestamp > max) max = ev.timestamp;
    return max ? new Date(max * 1000) : undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A job's recoverability as `onedump status` reports it: the window(s) and every problem found. */
export interface JobStatus extends Partial<Recoverability> {
  job: string;
  ok: boolean;
  problems: string[];
  binlogs?: string;
  maxlag?: string;
}

/**
 * What the job can be restored to right now, from its destinations and its stored binlogs (`binlogs:`); problems are
 * a destination or the binlogs that could not be listed, a gap, no backup, or a latest instant older than `maxlag`.
 */
export async function jobStatus(p: PreparedJob, now = new Date(), signal?: AbortSignal): Promise<JobStatus> {
  const { job } = p;
  const st: JobStatus = { job: job.name, ok: true, problems: [], maxlag: job.maxlag === undefined ? undefined : String(job.maxlag) };
  const listings = await listJobBackups(p, signal);
  for (const l of listings) if (l.error) st.problems.push(`${l.destination} (${l.location}) could not be listed: ${l.error}`);
  const bl = openJobBinlogs(job, silentLogger);
  let stored: StoredBinlog[] | undefined;
  try {
    if (bl) {
      st.binlogs = bl.location;
      try {
        stored = await listStoredBinlogs(bl.storage, bl.prefix, signal);
      } catch (err) {
        st.problems.push(`the binlogs at ${bl.location} could not be listed: ${errorMessage(err)}`);
      }
    }
    Object.assign(st, await computeRecoverability(listings.flatMap((l) => l.backups), stored, (b) => storedBinlogEnd(bl!.storage, b, signal)));
  } finally {
    await bl?.storage.close?.();
  }
  for (const g of st.gaps ?? []) st.problems.push(`binlog gap: ${g.missing.join(', ')} ${g.reason}${g.after || g.before ? ` (between ${g.after ?? '?'} and ${g.before ?? '?'})` : ''}`);
  if (!st.windows?.length) st.problems.push('no backup to restore');
  const lagMs = job.maxlag !== undefined ? parseDuration(job.maxlag) : undefined;
  if (lagMs !== undefined && st.latest && now.getTime() - Date.parse(st.latest) > lagMs) {
    st.problems.push(`the latest recoverable instant ${st.latest} is ${formatDuration(now.getTime() - Date.parse(st.latest))} old, more than maxlag ${job.maxlag}`);
  }
  st.ok = st.problems.length === 0;
  return st;
}
