import type { Aggregator, QueryGroup } from './aggregate.js';
import { maskQuery } from './mask.js';
import { sampleFields, type SampleFields } from './metrics.js';
import { formatMicros } from './time.js';

export const SORT_KEYS = ['max', 'total', 'count', 'avg', 'p95'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

/** One group: the Go tool's fields from the slowest sample, plus the aggregates beside them. */
export interface SlowResult extends SampleFields {
  count: number;
  query_time_total: number;
  query_time_min: number;
  query_time_max: number;
  query_time_avg: number;
  query_time_p95: number;
  lock_time_total: number;
  lock_time_max: number;
  rows_sent_total: number;
  rows_examined_total: number;
  first_seen: string;
  last_seen: string;
  users: string[];
  databases: string[];
  hosts: string[];
  fingerprint: string;
  fingerprint_id: string;
}

/** The JSON document (`{ok, error, results}` as the Go tool, plus the run's totals). */
export interface SlowReport {
  ok: boolean;
  error: string;
  /** Entries read (including those the filters left out). */
  entries: number;
  /** Entries left out by --since/--until/--user/--db/--host. */
  filtered: number;
  /** Distinct fingerprints among the entries kept. */
  groups: number;
  /** Malformed or truncated entries, and runs of lines that belong to no entry. */
  skipped: number;
  files: number;
  /** Sum of query_time over every entry kept (not only the listed results). */
  query_time_total: number;
  first_seen: string;
  last_seen: string;
  results: SlowResult[];
}

export interface ReportSettings {
  entries: number;
  filtered: number;
  skipped: number;
  files: number;
  limit: number;
  mask: boolean;
  sort: SortKey;
}

/**
 * The report of one aggregator, or of several side by side (the Go tool's per-file results for a
 * folder: a statement in three files is three results), sorted together.
 */
export function buildReport(aggregator: Aggregator | Aggregator[], settings: ReportSettings): SlowReport {
  const groups = Array.isArray(aggregator) ? aggregator.flatMap((a) => [...a.groups.values()]) : [...aggregator.groups.values()];
  const p95 = new Map<QueryGroup, number>(groups.map((g) => [g, g.queryTimes.quantile(0.95)]));
  const key = sortValue(settings.sort, p95);
  // Ties keep a stable, meaningful order: by total time, then by fingerprint.
  groups.sort((a, b) => key(b) - key(a) || b.queryTimeTotalMicros - a.queryTimeTotalMicros || (a.fingerprint < b.fingerprint ? -1 : 1));
  const listed = settings.limit > 0 ? groups.slice(0, settings.limit) : groups;

  let total = 0;
  let first = NaN;
  let last = NaN;
  for (const g of groups) {
    total += g.queryTimeTotalMicros;
    if (!(g.firstSeenMicros >= first)) first = g.firstSeenMicros;
    if (!(g.lastSeenMicros <= last)) last = g.lastSeenMicros;
  }

  return {
    ok: true,
    error: '',
    entries: settings.entries,
    filtered: settings.filtered,
    groups: groups.length,
    skipped: settings.skipped,
    files: settings.files,
    query_time_total: total / 1e6,
    first_seen: formatMicros(first),
    last_seen: formatMicros(last),
    results: listed.map((g) => resultOf(g, p95.get(g)!, settings.mask)),
  };
}

export function errorReport(message: string): Pick<SlowReport, 'ok' | 'error' | 'results'> {
  return { ok: false, error: message, results: [] };
}

function sortValue(sort: SortKey, p95: Map<QueryGroup, number>): (g: QueryGroup) => number {
  switch (sort) {
    case 'max':
      return (g) => g.queryTimeMax;
    case 'total':
      return (g) => g.queryTimeTotalMicros;
    case 'count':
      return (g) => g.count;
    case 'avg':
      return (g) => g.queryTimeTotalMicros / g.count;
    case 'p95':
      return (g) => p95.get(g)!;
  }
}

function resultOf(g: QueryGroup, p95: number, mask: boolean): SlowResult {
  const sample = g.sample;
  const f = sampleFields(sample, mask ? maskQuery(sample.query) : sample.query);
  // One literal, in the JSON order: spreading the sample's fields into it made a dictionary-mode
  // object of ~50 properties per group (tens of megabytes for a report of thousands, and slow to stringify).
  return {
    time: f.time,
    user: f.user,
    host_ip: f.host_ip,
    query_time: f.query_time,
    lock_time: f.lock_time,
    rows_sent: f.rows_sent,
    rows_examined: f.rows_examined,
    thread_id: f.thread_id,
    errno: f.errno,
    killed: f.killed,
    bytes_received: f.bytes_received,
    bytes_sent: f.bytes_sent,
    read_first: f.read_first,
    read_last: f.read_last,
    read_key: f.read_key,
    read_next: f.read_next,
    read_prev: f.read_prev,
    read_rnd: f.read_rnd,
    read_rnd_next: f.read_rnd_next,
    sort_merge_passes: f.sort_merge_passes,
    sort_range_count: f.sort_range_count,
    sort_rows: f.sort_rows,
    sort_scan_count: f.sort_scan_count,
    created_tmp_disk_tables: f.created_tmp_disk_tables,
    created_tmp_tables: f.created_tmp_tables,
    count_hit_tmp_table_size: f.count_hit_tmp_table_size,
    start: f.start,
    end: f.end,
    query: f.query,
    count: g.count,
    query_time_total: g.queryTimeTotalMicros / 1e6,
    query_time_min: g.queryTimeMin,
    query_time_max: g.queryTimeMax,
    query_time_avg: round6(g.queryTimeTotalMicros / 1e6 / g.count),
    query_time_p95: round6(p95),
    lock_time_total: g.lockTimeTotalMicros / 1e6,
    lock_time_max: g.lockTimeMax,
    rows_sent_total: g.rowsSentTotal,
    rows_examined_total: g.rowsExaminedTotal,
    first_seen: formatMicros(g.firstSeenMicros),
    last_seen: formatMicros(g.lastSeenMicros),
    users: [...g.users].sort(),
    databases: [...g.databases].sort(),
    hosts: [...g.hosts].sort(),
    fingerprint: g.fingerprint,
    fingerprint_id: g.id,
  };
}

/** Log times have microsecond precision; sums of them carry float noise below that. */
function round6(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
