/** One statement as the server logged it. */
export interface SlowEntry {
  /** The `# Time:` value as written, or '' when the entry had none. */
  time: string;
  /** Microseconds since the epoch (UTC); NaN when the entry carries no time at all. */
  timeMicros: number;
  /** `user[priv_user]`, as the Go tool reported it. */
  user: string;
  /** The account name alone, for filters and the `users` list. */
  userName: string;
  /** Host part as the Go tool reported it: `localhost`, `[10.0.0.1]` or `web1 [10.0.0.1]`. */
  hostIp: string;
  /** Host name, or the IP address when the server logged no name. */
  host: string;
  /** Default database: MariaDB's `Schema:` or the last `use db;` the log wrote. */
  db: string;
  queryTime: number;
  lockTime: number;
  rowsSent: number;
  rowsExamined: number;
  /** The `# key: value` header lines, parsed only for a group's slowest sample (see metrics.ts). */
  attributeLines: string[];
  /** `Id:` from the User@Host line (MySQL), when present. */
  connectionId: number;
  /** Statement text without `use`/`SET timestamp=` lines and without the final `;`. */
  query: string;
}

/**
 * A copy of `text` that shares no memory with the read chunk it was sliced from: V8 keeps a whole
 * chunk alive for as long as any substring sliced from it lives, so long-lived strings are copied.
 * The copy stays on the JS heap (a flattened concatenation), where a round trip through a Buffer
 * left an external allocation per call for the garbage collector to free late.
 */
export function detach(text: string): string {
  return text.length < 13 ? text : (' ' + text).slice(1);
}
