import type { SlowEntry } from './entry.js';
import { fingerprint, fingerprintId } from './fingerprint.js';
import { QuantileSketch } from './quantile.js';

/** Lists (users, databases, hosts) stop growing here so one group cannot hold unbounded memory. */
export const MAX_LISTED_VALUES = 100;

export interface QueryGroup {
  fingerprint: string;
  id: string;
  count: number;
  queryTimeTotal: number;
  queryTimeMin: number;
  queryTimeMax: number;
  queryTimes: QuantileSketch;
  lockTimeTotal: number;
  lockTimeMax: number;
  rowsSentTotal: number;
  rowsExaminedTotal: number;
  firstSeenMicros: number;
  lastSeenMicros: number;
  users: Set<string>;
  databases: Set<string>;
  hosts: Set<string>;
  /** The slowest entry of the group (the first one logged, on a tie). */
  sample: SlowEntry;
}

/** Per-fingerprint totals. Memory grows with the number of distinct fingerprints only. */
export class Aggregator {
  readonly groups = new Map<string, QueryGroup>();
  entries = 0;

  add(entry: SlowEntry): void {
    this.entries++;
    const fp = fingerprint(entry.query);
    let group = this.groups.get(fp);
    if (group === undefined) {
      const key = detach(fp);
      group = {
        fingerprint: key,
        id: fingerprintId(key),
        count: 0,
        queryTimeTotal: 0,
        queryTimeMin: Infinity,
        queryTimeMax: -Infinity,
        queryTimes: new QuantileSketch(),
        lockTimeTotal: 0,
        lockTimeMax: 0,
        rowsSentTotal: 0,
        rowsExaminedTotal: 0,
        firstSeenMicros: NaN,
        lastSeenMicros: NaN,
        users: new Set(),
        databases: new Set(),
        hosts: new Set(),
        sample: detachEntry(entry),
      };
      this.groups.set(key, group);
    } else if (entry.queryTime > group.queryTimeMax) {
      group.sample = detachEntry(entry);
    }
    group.count++;
    group.queryTimeTotal += entry.queryTime;
    if (entry.queryTime < group.queryTimeMin) group.queryTimeMin = entry.queryTime;
    if (entry.queryTime > group.queryTimeMax) group.queryTimeMax = entry.queryTime;
    group.queryTimes.add(entry.queryTime);
    group.lockTimeTotal += entry.lockTime;
    if (entry.lockTime > group.lockTimeMax) group.lockTimeMax = entry.lockTime;
    group.rowsSentTotal += entry.rowsSent;
    group.rowsExaminedTotal += entry.rowsExamined;
    const t = entry.timeMicros;
    if (Number.isFinite(t)) {
      if (!(t >= group.firstSeenMicros)) group.firstSeenMicros = t;
      if (!(t <= group.lastSeenMicros)) group.lastSeenMicros = t;
    }
    addListed(group.users, entry.userName);
    addListed(group.databases, entry.db);
    addListed(group.hosts, entry.host);
  }
}

function addListed(set: Set<string>, value: string): void {
  if (value === '' || set.size >= MAX_LISTED_VALUES || set.has(value)) return;
  set.add(detach(value));
}

/**
 * A copy that shares no memory with the input chunk. V8 keeps a whole read chunk alive for as long
 * as any substring sliced from it lives, so long-lived strings must be copied.
 */
function detach(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

function detachEntry(entry: SlowEntry): SlowEntry {
  return {
    ...entry,
    time: detach(entry.time),
    user: detach(entry.user),
    userName: detach(entry.userName),
    hostIp: detach(entry.hostIp),
    host: detach(entry.host),
    db: detach(entry.db),
    attributeLines: entry.attributeLines.map(detach),
    query: detach(entry.query),
  };
}
