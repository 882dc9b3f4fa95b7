import type { SlowEntry } from './entry.js';

/** The Go tool's per-sample fields, in its order (JSON field names are part of the contract). */
export interface SampleFields {
  time: string;
  user: string;
  host_ip: string;
  query_time: number;
  lock_time: number;
  rows_sent: number;
  rows_examined: number;
  thread_id: number;
  errno: number;
  killed: number;
  bytes_received: number;
  bytes_sent: number;
  read_first: number;
  read_last: number;
  read_key: number;
  read_next: number;
  read_prev: number;
  read_rnd: number;
  read_rnd_next: number;
  sort_merge_passes: number;
  sort_range_count: number;
  sort_rows: number;
  sort_scan_count: number;
  created_tmp_disk_tables: number;
  created_tmp_tables: number;
  count_hit_tmp_table_size: number;
  start: string;
  end: string;
  query: string;
}

/** log_slow_extra attribute → JSON field. */
const EXTRA_FIELDS = {
  Thread_id: 'thread_id',
  Errno: 'errno',
  Killed: 'killed',
  Bytes_received: 'bytes_received',
  Bytes_sent: 'bytes_sent',
  Read_first: 'read_first',
  Read_last: 'read_last',
  Read_key: 'read_key',
  Read_next: 'read_next',
  Read_prev: 'read_prev',
  Read_rnd: 'read_rnd',
  Read_rnd_next: 'read_rnd_next',
  Sort_merge_passes: 'sort_merge_passes',
  Sort_range_count: 'sort_range_count',
  Sort_rows: 'sort_rows',
  Sort_scan_count: 'sort_scan_count',
  Created_tmp_disk_tables: 'created_tmp_disk_tables',
  Created_tmp_tables: 'created_tmp_tables',
  Count_hit_tmp_table_size: 'count_hit_tmp_table_size',
} as const satisfies Record<string, keyof SampleFields>;

/**
 * Builds the Go tool's result fields from an entry. The header's extra attributes are parsed here,
 * only for the samples that get reported, not for every entry read.
 */
export function sampleFields(entry: SlowEntry, query: string): SampleFields {
  const fields: SampleFields = {
    time: entry.time,
    user: entry.user,
    host_ip: entry.hostIp,
    query_time: entry.queryTime,
    lock_time: entry.lockTime,
    rows_sent: entry.rowsSent,
    rows_examined: entry.rowsExamined,
    thread_id: entry.connectionId,
    errno: 0,
    killed: 0,
    bytes_received: 0,
    bytes_sent: 0,
    read_first: 0,
    read_last: 0,
    read_key: 0,
    read_next: 0,
    read_prev: 0,
    read_rnd: 0,
    read_rnd_next: 0,
    sort_merge_passes: 0,
    sort_range_count: 0,
    sort_rows: 0,
    sort_scan_count: 0,
    created_tmp_disk_tables: 0,
    created_tmp_tables: 0,
    count_hit_tmp_table_size: 0,
    start: '',
    end: '',
    query,
  };
  const numeric = fields as unknown as Record<string, number>;
  for (const line of entry.attributeLines) {
    for (const match of line.matchAll(ATTRIBUTE)) {
      const key = match[1]!;
      const value = match[2]!;
      if (key === 'Start') fields.start = value;
      else if (key === 'End') fields.end = value;
      else if (key in EXTRA_FIELDS) {
        const n = Number(value);
        if (Number.isFinite(n)) numeric[EXTRA_FIELDS[key as keyof typeof EXTRA_FIELDS]] = n;
      } else if (key === 'Bytes_sent') fields.bytes_sent = Number(value) || 0;
    }
  }
  return fields;
}

const ATTRIBUTE = /(\w+):\s+(\S+)/g;
