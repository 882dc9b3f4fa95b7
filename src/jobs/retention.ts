import type { Destination } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { KEEP_TIERS, describeKeep, type KeepPolicy, type KeepTier } from '../config/fields.js';
import { retentionPattern, splitKey, type NamingOptions } from './naming.js';
import { deleteSidecars } from './manifest.js';
import { listBackups, timeFromName, type CatalogEntry } from './catalog.js';

/** A backup as retention sees it. */
export interface RetentionCandidate {
  key: string;
  name: string;
  /** When the backup was made (the manifest's startedAt, else the name's prefix); undefined: unknown, so kept. */
  time?: Date;
  /** Marked permanent with `onedump mark --keep`. */
  marked?: boolean;
}

/** What retention decided for one backup, and why. */
export interface RetentionDecision {
  key: string;
  name: string;
  time?: string;
  keep: boolean;
  /** Why it is kept (e.g. "daily 2026-03-04 (2 of 7)", "marked --keep", "just written"), or why it goes. */
  reasons: string[];
}

/** The time retention uses for a backup: the manifest's startedAt, else the YYYYMMDDHHMMSS- name prefix. */
export function backupTime(e: Pick<CatalogEntry, 'name' | 'manifest'>): Date | undefined {
  const iso = e.manifest?.startedAt ?? timeFromName(e.name);
  if (!iso) return undefined;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Calendar fields of an instant in a time zone (UTC when none). */
export function calendarOf(t: Date, timeZone?: string): { year: number; month: number; day: number; hour: number } {
  if (!timeZone || timeZone === 'UTC') return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate(), hour: t.getUTCHours() };
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(t).map((p) => [p.type, p.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour) % 24 };
}

/** ISO 8601 week of a calendar date: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const d = new Date(Date.UTC(year, month - 1, day));
  const dow = (d.getUTCDay() + 6) % 7; // Monday 0
  d.setUTCDate(d.getUTCDate() - dow + 3); // the Thursday of this week decides the year
  const isoYear = d.getUTCFullYear();
  const firstThursday = new Date(Date.UTC(isoYear, 0, 4));
  firstThursday.setUTCDate(firstThursday.getUTCDate() - ((firstThursday.getUTCDay() + 6) % 7) + 3);
  return { year: isoYear, week: 1 + Math.round((d.getTime() - firstThursday.getTime()) / (7 * 86400_000)) };
}

const p2 = (n: number) => String(n).padStart(2, '0');

/** The period of a tier an instant falls in, as a label (also its identity). */
export function periodOf(tier: Exclude<KeepTier, 'last'>, t: Date, timeZone?: string): string {
  const c = calendarOf(t, timeZone);
  switch (tier) {
    case 'hourly':
      return `${c.year}-${p2(c.month)}-${p2(c.day)} ${p2(c.hour)}h`;
    case 'daily':
      return `${c.year}-${p2(c.month)}-${p2(c.day)}`;
    case 'weekly': {
      const w = isoWeek(c.year, c.month, c.day);
      return `${w.year}-W${p2(w.week)}`;
    }
    case 'monthly':
      return `${c.year}-${p2(c.month)}`;
    case 'yearly':
      return `${c.year}`;
  }
}

/**
 * Decides which backups a policy keeps. A number keeps the newest N by name (the timestamp prefix sorts
 * chronologically), as before tiers existed. Tiers follow restic's `forget --keep-*`: going from the newest backup to
 * the oldest, each tier keeps a backup when it is the first (newest) one of a period that tier has not seen yet, until
 * that tier has kept N; a backup kept by any tier is kept. Marked backups and backups whose time is unknown are kept
 * and not counted; `protect` (the backup just written) is always kept.
 */
export function planRetention(cands: RetentionCandidate[], policy: KeepPolicy, opts: { timeZone?: string; protect?: string } = {}): RetentionDecision[] {
  const decisions = new Map<string, RetentionDecision>();
  for (const c of cands) decisions.set(c.key, { key: c.key, name: c.name, time: c.time?.toISOString(), keep: false, reasons: [] });
  const keepFor = (key: string, reason: string) => {
    const d = decisions.get(key)!;
    d.keep = true;
    d.reasons.push(reason);
  };
  const counted: RetentionCandidate[] = [];
  for (const c of cands) {
    if (c.marked) keepFor(c.key, 'marked --keep');
    else if (typeof policy !== 'number' && !c.time) keepFor(c.key, 'time unknown (no manifest and no timestamp in the name)');
    else counted.push(c);
  }
  if (typeof policy === 'number') {
    counted.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    counted.forEach((c, i) => {
      if (i < policy) keepFor(c.key, `newest ${i + 1} of ${policy}`);
    });
  } else {
    counted.sort((a, b) => b.time!.getTime() - a.time!.getTime() || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    for (const tier of KEEP_TIERS) {
      const n = policy[tier];
      if (!n) continue;
      let kept = 0;
      let last: string | undefined;
      for (const c of counted) {
        if (kept >= n) break;
        const period = tier === 'last' ? c.key : periodOf(tier, c.time!, opts.timeZone);
        if (period === last) continue;
        last = period;
        kept++;
        keepFor(c.key, tier === 'last' ? `last (${kept} of ${n})` : `${tier} ${period} (${kept} of ${n})`);
      }
    }
  }
  if (opts.protect && decisions.has(opts.protect)) {
    const d = decisions.get(opts.protect)!;
    if (!d.keep) keepFor(opts.protect, 'just written');
  }
  for (const d of decisions.values()) if (!d.keep) d.reasons.push(`not kept by ${describeKeep(policy)}`);
  return cands.map((c) => decisions.get(c.key)!);
}

export interface RetentionOptions extends NamingOptions {
  keep: KeepPolicy;
  log: Logger;
  /** Periods are calendar periods in this IANA zone (the job's `timezone:`); UTC when absent. */
  timeZone?: string;
  /** The key just written: never deleted, whatever the policy says. */
  protect?: string;
  /** Only decide; delete nothing. */
  dryRun?: boolean;
  /** Read the kept backups' manifests even for a number (binlog retention needs their coordinates). */
  manifests?: boolean;
  signal?: AbortSignal;
}

export interface RetentionResult {
  destination: string;
  location: string;
  decisions: RetentionDecision[];
  /** Keys deleted (or, with dryRun, that would be). */
  deleted: string[];
  /** The backups kept (with their manifests), for what depends on them (binlog retention). */
  kept: CatalogEntry[];
}

/**
 * Applies a job's retention at one destination. Only names the job itself writes are considered (exact pattern, same
 * folder); anything else in the folder is never touched. A deleted backup's sidecars (manifest, verify record) go
 * with it.
 */
export async function applyRetention(d: Destination, configuredKey: string, opts: RetentionOptions): Promise<RetentionResult> {
  const { dir } = splitKey(d.key);
  const pattern = retentionPattern(splitKey(configuredKey).base, opts);
  // A number needs names only: no manifest reads on every run (one request per backup on cloud storages).
  const sidecars = typeof opts.keep !== 'number' || Boolean(opts.manifests);
  const backups = await listBackups(d.storage, dir, { accept: (n) => pattern.test(n), signal: opts.signal, sidecars });
  const decisions = planRetention(
    backups.map((b) => ({ key: b.key, name: b.name, time: backupTime(b), marked: b.marked })),
    opts.keep,
    { timeZone: opts.timeZone, protect: opts.protect },
  );
  const deleted: string[] = [];
  for (const dec of decisions) {
    const where = d.storage.describe(dec.key);
    if (dec.keep) {
      if (dec.reasons[0]?.startsWith('time unknown')) opts.log.warn({ destination: d.name, backup: where }, `retention: keeping ${where}: its time is unknown (no manifest and no YYYYMMDDHHMMSS- prefix)`);
      continue;
    }
    deleted.push(dec.key);
    if (opts.dryRun) continue;
    await d.storage.delete(dec.key);
    // Its manifest and verification record go with it; a backup from before manifests has none.
    await deleteSidecars(d, dec.key);
    opts.log.info({ destination: d.name, deleted: where }, `retention: deleted ${where} (${describeKeep(opts.keep)})`);
  }
  const gone = new Set(deleted);
  return { destination: d.name, location: d.storage.describe(dir), decisions, deleted, kept: backups.filter((b) => !gone.has(b.key)) };
}
