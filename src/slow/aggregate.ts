import { detach, type SlowEntry } from './entry.js';
import { fingerprint, fingerprintId } from './fingerprint.js';
import { QuantileSketch, type SketchState } from './quantile.js';

/** Lists (users, databases, hosts) stop growing here so one group cannot hold unbounded memory. */
export const MAX_LISTED_VALUES = 100;

export interface QueryGroup {
  fingerprint: string;
  id: string;
  count: number;
  /** Sums in whole microseconds (logs have µs precision): exact, so merged halves add up to the same. */
  queryTimeTotalMicros: number;
  queryTimeMin: number;
  queryTimeMax: number;
  queryTimes: QuantileSketch;
  lockTimeTotalMicros: number;
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

/** A group as plain data, to cross a worker boundary. */
export type QueryGroupState = Omit<QueryGroup, 'queryTimes'> & { queryTimes: SketchState };

export interface AggregatorState {
  entries: number;
  groups: QueryGroupState[];
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
        queryTimeTotalMicros: 0,
        queryTimeMin: Infinity,
        queryTimeMax: -Infinity,
        queryTimes: new QuantileSketch(),
        lockTimeTotalMicros: 0,
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
    group.queryTimeTotalMicros += Math.round(entry.queryTime * 1e6);
    if (entry.queryTime < group.queryTimeMin) group.queryTimeMin = entry.queryTime;
    if (entry.queryTime > group.queryTimeMax) group.queryTimeMax = entry.queryTime;
    group.queryTimes.add(entry.queryTime);
    group.lockTimeTotalMicros += Math.round(entry.lockTime * 1e6);
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

  state(): AggregatorState {
    return {
      entries: this.entries,
      groups: [...this.groups.values()].map((g) => ({ ...g, queryTimes: g.queryTimes.state() })),
    };
  }

  /**
   * Adds the groups of a later part of the input. Merging the parts in input order gives exactly
   * what adding every entry in order gives: sums are integers, ties keep the earlier sample, and the
   * listed values keep their first-seen order. `database` replaces the `databases` of every group
   * (for entries whose database was inherited from an earlier part).
   */
  merge(state: AggregatorState, database?: string): void {
    this.entries += state.entries;
    for (const other of state.groups) {
      const databases = database === undefined ? other.databases : new Set(database === '' ? [] : [database]);
      const sample = database === undefined ? other.sample : { ...other.sample, db: database };
      const group = this.groups.get(other.fingerprint);
      if (group === undefined) {
        this.groups.set(other.fingerprint, {
          ...other,
          sample,
          databases,
          queryTimes: QuantileSketch.fromState(other.queryTimes),
        });
        continue;
      }
      if (other.queryTimeMax > group.queryTimeMax) group.sample = sample;
      group.count += other.count;
      group.queryTimeTotalMicros += other.queryTimeTotalMicros;
      if (other.queryTimeMin < group.queryTimeMin) group.queryTimeMin = other.queryTimeMin;
      if (other.queryTimeMax > group.queryTimeMax) group.queryTimeMax = other.queryTimeMax;
      group.queryTimes.merge(QuantileSketch.fromState(other.queryTimes));
      group.lockTimeTotalMicros += other.lockTimeTotalMicros;
      if (other.lockTimeMax > group.lockTimeMax) group.lockTimeMax = other.lockTimeMax;
      group.rowsSentTotal += other.rowsSentTotal;
      group.rowsExaminedTotal += other.rowsExaminedTotal;
      if (!(other.firstSeenMicros >= group.firstSeenMicros)) group.firstSeenMicros = other.firstSeenMicros;
      if (!(other.lastSeenMicros <= group.lastSeenMicros)) group.lastSeenMicros = other.lastSeenMicros;
      for (const v of other.users) addListed(group.users, v);
      for (const v of databases) addListed(group.databases, v);
      for (const v of other.hosts) addListed(group.hosts, v);
    }
  }
}

function addListed(set: Set<string>, value: string): void {
  if (value === '' || set.size >= MAX_LISTED_VALUES || set.has(value)) return;
  set.add(detach(value));
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
