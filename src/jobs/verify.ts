import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Storage } from '../storage/types.js';
import type { ParsedDsn } from '../config/dsn.js';
import type { JobConfig } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { restoreDump } from '../dump/restore.js';
import { createDumper } from '../dump/registry.js';
import { TableTally, tallyFlavour, type TableTallyEntry } from '../dump/tally.js';
import { startScratchServer, type ScratchServer } from '../dump/scratch.js';
import { quoteIdent } from '../dump/mysql-native/sql-buffer.js';
import { errorMessage, exitCodeOf, UsageError } from '../util/errors.js';
import { putJson, readManifest, VERIFY_SUFFIX, type BackupManifest } from './manifest.js';
import type { VerifyRecord } from './catalog.js';
import { describeDsn, parseDsn } from '../config/dsn.js';
import { listBackups } from './catalog.js';
import { prepareJob } from './job.js';
import { jobBackupsIn } from './naming.js';
import { silentLogger } from '../util/logger.js';

/** The newest backup in a folder (optionally only the names `accept` takes). */
export async function latestBackup(storage: Storage, dir: string, accept?: (n: string) => boolean): Promise<string> {
  const all = await listBackups(storage, dir, { accept });
  if (!all.length) throw new UsageError(`there is no backup in ${storage.describe(dir)} to verify.`);
  return all[0]!.key;
}

/**
 * A job's backup to drill: at `destination` (default the job's verify.destination, else its first), the named backup
 * or the newest one the job wrote. The caller closes the storage.
 */
export async function jobBackup(job: JobConfig, dsn: ParsedDsn, opts: { destination?: string; backup?: string } = {}): Promise<{ storage: Storage; key: string }> {
  const p = prepareJob(job, dsn, silentLogger);
  const wanted = opts.destination ?? job.verify?.destination;
  const t = wanted ? p.targets.find((x) => x.name === wanted) : p.targets[0];
  if (!t) throw new UsageError(wanted ? `job "${job.name}" has no destination ${wanted} (it has ${p.targets.map((x) => x.name).join(', ')}).` : `job "${job.name}" has no destination.`);
  const d = t.build();
  try {
    const { dir, accept } = jobBackupsIn(t.configuredKey, job);
    if (!opts.backup || opts.backup === 'latest') return { storage: d.storage, key: await latestBackup(d.storage, dir, accept) };
    if (opts.backup.includes('/')) throw new UsageError('--backup takes a file name as `onedump ls` shows it, not a path.');
    const key = dir + opts.backup;
    if (!(await d.storage.stat(key))) throw new UsageError(`there is no backup ${d.storage.describe(key)}.`);
    return { storage: d.storage, key };
  } catch (err) {
    await d.storage.close?.();
    throw err;
  }
}

/** The scratch server a job's `verify:` names, if any. */
export function jobScratchServer(job: JobConfig): { dsn: ParsedDsn; database?: string } | undefined {
  if (!job.verify?.dsn) return undefined;
  return { dsn: parseDsn(job.verify.dsn), database: job.verify.database };
}

export interface VerifyOptions {
  storage: Storage;
  key: string;
  /** The job that wrote the backup, when known (its driver and options); else the manifest says. */
  job?: JobConfig;
  /** The job's source, for the database name of a backup without a manifest. */
  sourceDsn?: ParsedDsn;
  identity?: string;
  /** Restore into a scratch database on this server instead of a throwaway server. */
  server?: { dsn: ParsedDsn; database?: string };
  /** Record the result next to the backup (NAME.verify.json). */
  record?: boolean;
  log: Logger;
  signal: AbortSignal;
}

export interface TableCheck {
  table: string;
  expected?: { rows?: number; bytes: number; crc32: string };
  actual?: { rows?: number; bytes: number; crc32: string };
  ok: boolean;
}

export interface VerifyResult {
  ok: boolean;
  backup: string;
  manifest: boolean;
  sha256: { expected?: string; actual?: string; ok?: boolean };
  target?: string;
  /** Time to load the backup into the scratch target: the measured restore time (RTO). */
  restoreMs?: number;
  durationMs: number;
  tables: TableCheck[];
  /** Views, triggers, routines, events: how many the manifest lists and how many came back. */
  objects?: { expected: number; restored: number };
  differences: string[];
  notes: string[];
  error?: string;
}

/** Databases a scratch server has of its own: their contents are the server's, not the backup's. */
const SYSTEM_DBS = new Set(['mysql', 'sys', 'information_schema', 'performance_schema']);

function tableLabel(t: { database?: string; name: string }): string {
  return t.database ? `${t.database}.${t.name}` : t.name;
}

/** The job to re-dump the restored copy with: the original job's driver and options, else the manifest's. */
function redumpJob(o: VerifyOptions, manifest: BackupManifest | undefined): JobConfig {
  const base = o.job ?? ({ name: manifest?.job ?? 'verify', gzip: false, unique: false, storage: {} } as unknown as JobConfig);
  const dbdriver = (o.job?.dbdriver ?? manifest?.driver) as JobConfig['dbdriver'] | undefined;
  if (!dbdriver) throw new UsageError(`${o.storage.describe(o.key)} has no manifest: name its job (-c FILE --job NAME) so that verify knows how it was dumped.`);
  const options = o.job?.options ?? manifest?.options;
  // Only what shapes the dump's text matters; connection settings are the scratch server's.
  return { ...base, dbdriver, options, sshhost: undefined, tables: undefined, excludetables: undefined, driverpath: o.job?.driverpath } as JobConfig;
}

/**
 * A restore drill: reads the backup once (checking its sha256 against the manifest on the way), loads it into a
 * scratch target, dumps that copy again the same way and compares every table's data (bytes and CRC-32, and rows
 * where counted) with what the manifest recorded at backup time; then removes the scratch target. Never throws for a
 * backup that does not verify: the result says what differs. Throws for bad usage (exit 2).
 */
export async function verifyBackup(o: VerifyOptions): Promise<VerifyResult> {
  const started = Date.now();
  const backup = o.storage.describe(o.key);
  const result: VerifyResult = { ok: false, backup, manifest: false, sha256: {}, durationMs: 0, tables: [], differences: [], notes: [] };
  let manifest: BackupManifest | undefined;
  try {
    manifest = await readManifest(o.storage, o.key, o.signal);
  } catch (err) {
    result.differences.push(`the manifest is unreadable: ${errorMessage(err)}`);
  }
  result.manifest = Boolean(manifest);
  if (!manifest) result.notes.push('no manifest (a backup from before manifests): only checked that it restores and dumps again');
  const job = redumpJob(o, manifest);
  const engine = job.dbdriver === 'postgresql' || job.dbdriver === 'pgdump' ? 'postgres' : 'mysql';
  const stat = await o.storage.stat(o.key);
  if (!stat) throw new UsageError(`the backup ${backup} does not exist.`);

  let scratch: ScratchServer | undefined;
  let dropScratchDb: (() => Promise<void>) | undefined;
  try {
    // Where to restore: a scratch database on a named server, or a throwaway server of our own.
    const dbs = (manifest?.databases ?? (o.sourceDsn?.database ? [o.sourceDsn.database] : [])).filter((d) => !SYSTEM_DBS.has(d));
    let dsn: ParsedDsn;
    let targetDb: string | undefined;
    if (o.server) {
      if (manifest && (manifest.databases?.length ?? 0) > 1) {
        throw new UsageError(`${backup} holds ${manifest.databases!.length} databases; a drill on a shared server restores one. Let verify start its own server (leave out verify.dsn / --server).`);
      }
      targetDb = o.server.database ?? `onedump_verify_${randomBytes(4).toString('hex')}`;
      dsn = { ...o.server.dsn, database: engine === 'mysql' ? undefined : o.server.dsn.database };
      dropScratchDb = async () => {
        await dropDatabase(o.server!.dsn, targetDb!, o.signal).catch((err) => o.log.warn(`verify: could not drop the scratch database ${targetDb}: ${errorMessage(err)}`));
      };
      result.target = `${describeDsn({ ...o.server.dsn, database: targetDb })}`;
    } else {
      scratch = await startScratchServer(engine);
      dsn = { ...scratch.dsn, database: engine === 'mysql' ? (dbs.length === 1 ? dbs[0] : undefined) : dbs[0] ?? manifest?.databases?.[0] ?? 'verify' };
      if (engine === 'postgres') targetDb = dsn.database;
      result.target = `a throwaway server (${scratch.version})`;
    }

    const hash = createHash('sha256');
    const restoreStarted = Date.now();
    await restoreDump({ from: backup, source: { storage: o.storage, key: o.key }, dsn, targetDb, identity: o.identity, log: o.log, signal: o.signal, onRaw: (c) => hash.update(c) });
    result.restoreMs = Date.now() - restoreStarted;
    result.sha256.actual = hash.digest('hex');
    if (manifest) {
      result.sha256.expected = manifest.backup.sha256;
      result.sha256.ok = result.sha256.actual === manifest.backup.sha256;
      if (!result.sha256.ok) result.differences.push(`the stored bytes' sha256 is ${result.sha256.actual.slice(0, 16)}…, the manifest says ${manifest.backup.sha256.slice(0, 16)}…`);
      if (stat.size !== manifest.backup.size) result.differences.push(`the stored size is ${stat.size} bytes, the manifest says ${manifest.backup.size}`);
    }

    // Dump the restored copy the same way and compare table by table.
    const flavour = tallyFlavour(job);
    if (!flavour) {
      result.notes.push('this dump format is not SQL text: tables were not compared, only the restore and the sha256');
    } else {
      const redumpDsn: ParsedDsn = { ...dsn, database: targetDb ?? dsn.database };
      const tally = new TableTally(flavour);
      const sink = new Writable({
        write(chunk: Buffer, _e, cb) {
          tally.observe(chunk);
          cb();
        },
      });
      const dumper = createDumper(job, redumpDsn);
      const info = await dumper.dump(sink, { job, log: o.log, signal: o.signal });
      // The dumper's own row counts (the native driver) join the stream's tally, as they did at backup time.
      const own = new Map((info.tables ?? []).map((t) => [`${t.database ?? ''}\0${t.name}`, t.rows]));
      const actual = tally.result().map((t) => ({ ...t, rows: own.get(`${t.database ?? ''}\0${t.name}`) ?? t.rows }));
      compareTables(result, manifest, actual, Boolean(targetDb && engine === 'mysql'));
      compareObjects(result, manifest, tally.objectList(), Boolean(targetDb && engine === 'mysql'));
    }
  } catch (err) {
    if (exitCodeOf(err) === 2) throw err;
    result.error = errorMessage(err);
    result.differences.push(`the restore drill failed: ${result.error}`);
  } finally {
    await dropScratchDb?.();
    await scratch?.stop().catch((err) => o.log.warn(`verify: could not stop the scratch server: ${errorMessage(err)}`));
  }
  result.ok = result.differences.length === 0;
  result.durationMs = Date.now() - started;
  if (o.record) {
    const rec: VerifyRecord = {
      format: 'onedump-verify-result',
      version: 1,
      ok: result.ok,
      at: new Date().toISOString(),
      backup: o.key.split('/').pop() ?? o.key,
      durationMs: result.durationMs,
      restoreMs: result.restoreMs,
      differences: result.differences,
      error: result.error,
      target: result.target,
    };
    try {
      await putJson(o.storage, o.key + VERIFY_SUFFIX, rec, o.signal);
    } catch (err) {
      result.notes.push(`the result could not be recorded next to the backup: ${errorMessage(err)}`);
    }
  }
  return result;
}

function compareTables(result: VerifyResult, manifest: BackupManifest | undefined, actual: TableTallyEntry[], renamed: boolean): void {
  // Restored under another name (a scratch database on a shared server): match tables by name alone.
  const keyOf = (t: { database?: string; name: string }) => (renamed ? t.name : `${t.database ?? ''}\0${t.name}`);
  const isSystem = (t: { database?: string }) => t.database !== undefined && SYSTEM_DBS.has(t.database);
  const got = new Map(actual.filter((t) => !isSystem(t)).map((t) => [keyOf(t), t]));
  if (!manifest?.tables) {
    if (manifest) result.notes.push(`the manifest has no per-table checksums (${manifest.missing.find((m) => m.startsWith('per-table content')) ?? 'not recorded'}): tables were not compared`);
    return;
  }
  for (const e of manifest.tables.filter((t) => !isSystem(t))) {
    const a = got.get(keyOf(e));
    got.delete(keyOf(e));
    const check: TableCheck = { table: tableLabel(e), expected: { rows: e.rows, bytes: e.bytes, crc32: e.crc32 }, ok: false };
    if (!a) {
      result.differences.push(`table ${tableLabel(e)} is missing from the restored copy`);
    } else {
      check.actual = { rows: a.rows, bytes: a.bytes, crc32: a.crc32 };
      const rowsDiffer = e.rows !== undefined && a.rows !== undefined && e.rows !== a.rows;
      if (rowsDiffer) result.differences.push(`table ${tableLabel(e)}: ${a.rows} rows restored, ${e.rows} dumped`);
      else if (a.bytes !== e.bytes || a.crc32 !== e.crc32) {
        result.differences.push(`table ${tableLabel(e)}: its data differs from what was dumped (${a.bytes} bytes, CRC-32 ${a.crc32}; dumped ${e.bytes} bytes, CRC-32 ${e.crc32})`);
      } else check.ok = true;
    }
    result.tables.push(check);
  }
  for (const a of got.values()) {
    result.differences.push(`table ${tableLabel(a)} is in the restored copy but not in the manifest`);
    result.tables.push({ table: tableLabel(a), actual: { rows: a.rows, bytes: a.bytes, crc32: a.crc32 }, ok: false });
  }
}

/** Views, triggers, routines and events (pg: every table-of-contents entry): the same set must come back. */
function compareObjects(result: VerifyResult, manifest: BackupManifest | undefined, actual: string[], renamed: boolean): void {
  if (!manifest?.objects) return;
  // Under another database name (a scratch database), compare the names without their database.
  const norm = (o: string) => (renamed ? o.replace(/^(\S+) [^.]+\./, '$1 ') : o);
  const isSystem = (o: string) => [...SYSTEM_DBS].some((d) => o.split(' ')[1]?.startsWith(`${d}.`));
  const want = new Set(manifest.objects.filter((o) => !isSystem(o)).map(norm));
  const got = new Set(actual.filter((o) => !isSystem(o)).map(norm));
  for (const o of want) if (!got.has(o)) result.differences.push(`${o} is missing from the restored copy`);
  for (const o of got) if (!want.has(o)) result.differences.push(`${o} is in the restored copy but not in the manifest`);
  result.objects = { expected: want.size, restored: [...want].filter((o) => got.has(o)).length };
}

async function dropDatabase(dsn: ParsedDsn, db: string, signal: AbortSignal): Promise<void> {
  if (dsn.engine === 'mysql') {
    const mysql = (await import('mysql2/promise')).default;
    const c = await mysql.createConnection({ host: dsn.host, port: dsn.port, socketPath: dsn.socket, user: dsn.user, password: dsn.password });
    try {
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`);
    } finally {
      await c.end();
    }
  } else {
    const pg = (await import('pg')).default;
    const c = new pg.Client({ host: dsn.socket ?? dsn.host, port: dsn.port, user: dsn.user, password: dsn.password, database: dsn.database ?? 'postgres' });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS "${db.replace(/"/g, '""')}"`);
    } finally {
      await c.end();
    }
  }
  signal.throwIfAborted();
}
