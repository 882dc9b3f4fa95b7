import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { jobSchema, type JobConfig } from '../../src/config/schema.js';
import { parseDsn } from '../../src/config/dsn.js';
import { prepareJob, runPreparedJob } from '../../src/jobs/job.js';
import { silentLogger } from '../../src/util/logger.js';
import type { JobResult } from '../../src/notify/types.js';

export function tmp(prefix = 'onedump-dumptest-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function job(fields: Record<string, unknown>): JobConfig {
  return jobSchema.parse({ name: 'test', storage: {}, ...fields });
}

/** Runs a job through the real pipeline into a local file; returns the job result. */
export async function runJobToFile(fields: Record<string, unknown>, file: string): Promise<JobResult> {
  const j = job({ ...fields, storage: { local: [{ path: file }] } });
  const p = prepareJob(j, parseDsn(j.dbdsn), silentLogger);
  return runPreparedJob(p, { log: silentLogger, signal: new AbortController().signal, now: new Date() });
}

export interface MysqlSnapshot {
  tables: Record<string, { checksum: string; rows: number; hash: string }>;
  views: string[];
  triggers: string[];
  routines: string[];
  events: string[];
}

/** Everything a restore must reproduce: per-table checksum, row count and a hash of every row's raw bytes, plus the program objects. */
export async function mysqlSnapshot(c: Connection, db: string): Promise<MysqlSnapshot> {
  const norm = (s: unknown) => String(s ?? '').split(`\`${db}\`.`).join('').split(db).join('DB');
  const [tabs] = (await c.query(`SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME`, [db])) as unknown as [Array<{ n: string }>];
  const tables: MysqlSnapshot['tables'] = {};
  for (const { n } of tabs) {
    const q = `\`${db}\`.\`${n.replace(/`/g, '``')}\``;
    const [[ck]] = (await c.query(`CHECKSUM TABLE ${q}`)) as unknown as [[{ Checksum: number | string }]];
    const [cols] = (await c.query(`SELECT COLUMN_NAME AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, [db, n])) as unknown as [Array<{ n: string }>];
    const list = cols.map((x) => `\`${x.n.replace(/`/g, '``')}\``).join(',');
    const [rows] = (await c.query({ sql: `SELECT ${list} FROM ${q} ORDER BY 1`, rowsAsArray: true, typeCast: false } as never)) as unknown as [Array<Array<Buffer | null>>];
    const h = createHash('sha256');
    for (const r of rows) for (const v of r) h.update(v === null ? '\u0001NULL' : Buffer.concat([Buffer.from(`\u0002${v.length}:`), v]));
    tables[n] = { checksum: String(ck.Checksum), rows: rows.length, hash: h.digest('hex') };
  }
  const [views] = (await c.query(`SELECT TABLE_NAME AS n, VIEW_DEFINITION AS d FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`, [db])) as unknown as [Array<{ n: string; d: string }>];
  const [trg] = (await c.query(`SELECT TRIGGER_NAME AS n, ACTION_TIMING AS t, EVENT_MANIPULATION AS e, EVENT_OBJECT_TABLE AS o, ACTION_STATEMENT AS s, SQL_MODE AS m FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME`, [db])) as unknown as [Array<Record<string, string>>];
  const [rts] = (await c.query(`SELECT ROUTINE_NAME AS n, ROUTINE_TYPE AS t, ROUTINE_DEFINITION AS d, SQL_MODE AS m FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME`, [db])) as unknown as [Array<Record<string, string>>];
  const [evs] = (await c.query(`SELECT EVENT_NAME AS n, EVENT_DEFINITION AS d, INTERVAL_VALUE AS i, INTERVAL_FIELD AS f, STATUS AS s FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME`, [db])) as unknown as [Array<Record<string, string>>];
  return {
    tables,
    views: views.map((v) => `${v.n}: ${norm(v.d)}`),
    triggers: trg.map((t) => `${t.n} ${t.t} ${t.e} ON ${t.o} [${t.m}]: ${norm(t.s)}`),
    routines: rts.map((r) => `${r.t} ${r.n} [${r.m}]: ${norm(r.d)}`),
    events: evs.map((e) => `${e.n} ${e.i} ${e.f} ${e.s}: ${norm(e.d)}`),
  };
}
