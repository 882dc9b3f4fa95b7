import type { Writable } from 'node:stream';
import type { Logger } from '../util/logger.js';
import type { JobConfig } from '../config/schema.js';

export interface JobContext {
  job: JobConfig;
  log: Logger;
  /** Aborted when the job is cancelled (timeout, shutdown); dumpers must stop and clean up. */
  signal: AbortSignal;
}

export interface DumpInfo {
  /** Binlog coordinates recorded with the snapshot, when the source has binlog on. */
  binlog?: { file: string; position: number };
  /** Free-form facts for logs and results (server version, tables dumped, …). */
  details?: Record<string, unknown>;
  /** For the backup's manifest: the server version as reported, the databases dumped, per-table rows when counted. */
  server?: string;
  databases?: string[];
  tables?: Array<{ database?: string; name: string; rows: number }>;
  /** The dump tool's end marker that was found (see completeness.ts); undefined when its format has none. */
  endMarker?: string;
  /** What this dumper cannot record in a manifest (e.g. per-table rows of mysqldump). */
  missing?: string[];
}

/** Produces a dump as a byte stream; never buffers a table in memory. */
export interface Dumper {
  /** Writes the dump into `out` (respecting backpressure) and resolves when done. Must not end `out`. */
  dump(out: Writable, ctx: JobContext): Promise<DumpInfo>;
  /** Name for messages, e.g. "mysqldump", "native mysql". */
  readonly name: string;
}
