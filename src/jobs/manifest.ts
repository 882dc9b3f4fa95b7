import { Readable } from 'node:stream';
import { z } from 'zod';
import type { Destination, Storage } from '../storage/types.js';
import type { DumpInfo } from '../dump/types.js';
import type { TableTallyEntry } from '../dump/tally.js';
import { errorMessage } from '../util/errors.js';
import { compressionOf, type CompressionKeys } from './compression.js';

/**
 * The manifest stored next to every backup (`NAME.manifest.json`): what the backup is, where it came from, and what a
 * restore of it must reproduce. Written after the backup itself is committed, through the same put (so it is never
 * half visible either). It holds no credentials: the source is the host as configured, never the DSN.
 */
export const MANIFEST_SUFFIX = '.manifest.json';
/** The result of the last `onedump verify` of a backup, stored as `NAME.verify.json`. */
export const VERIFY_SUFFIX = '.verify.json';
/** Files that belong to a backup and go with it when retention deletes it. */
export const SIDECAR_SUFFIXES = [MANIFEST_SUFFIX, VERIFY_SUFFIX] as const;
/**
 * `onedump mark --keep` stores an empty `NAME.keep` next to a backup: retention and prune never delete a backup that
 * has one. Not in SIDECAR_SUFFIXES (a marked backup is never deleted, so its mark never goes with it), but it is a
 * sidecar: never listed as a backup.
 */
export const KEEP_SUFFIX = '.keep';

export const MANIFEST_FORMAT = 'onedump-backup-manifest';
export const MANIFEST_VERSION = 1;

const tableSchema = z.strictObject({
  database: z.string().optional().describe('The database (MySQL schema; PostgreSQL schema) the table is in.'),
  name: z.string().describe('Table name.'),
  rows: z.number().int().nonnegative().optional().describe('Rows dumped, counted while streaming (the native driver and pg_dump; not mysqldump).'),
  bytes: z.number().int().nonnegative().describe("Bytes of the table's data lines in the dump (INSERT lines; COPY rows)."),
  crc32: z
    .string()
    .regex(/^[0-9a-f]{8}(\+[0-9a-f]{8})*$/)
    .describe("CRC-32 of those bytes (one per data section, joined by +): a restored copy dumped again the same way gives the same value."),
});

export const manifestSchema = z
  .strictObject({
    format: z.literal(MANIFEST_FORMAT),
    version: z.literal(MANIFEST_VERSION).describe('Manifest format version; a reader refuses versions it does not know.'),
    onedump: z.string().describe('Version of onedump that wrote the backup.'),
    job: z.string(),
    driver: z.string().describe('dbdriver: mysql, mysqldump, postgresql or pgdump.'),
    options: z.array(z.string()).optional().describe("The job's dump options (a restore drill dumps its copy the same way); password options are masked."),
    source: z
      .strictObject({
        engine: z.enum(['mysql', 'postgres']),
        server: z.string().optional().describe('Server version as the server or the dump tool reported it.'),
        host: z.string().optional().describe('Host as configured (no credentials).'),
        port: z.number().int().optional(),
        socket: z.string().optional(),
      })
      .describe('The database server dumped.'),
    databases: z.array(z.string()).optional(),
    startedAt: z.string().describe('ISO 8601 time the dump started.'),
    finishedAt: z.string().describe('ISO 8601 time the backup was committed.'),
    binlog: z
      .strictObject({ file: z.string(), position: z.number().int(), gtid: z.string().optional() })
      .optional()
      .describe("The snapshot's binlog coordinates (when the source has binlog on): where point-in-time replay starts."),
    compression: z.strictObject({ algorithm: z.enum(['none', 'gzip', 'zstd']), level: z.number().int().optional() }),
    encryption: z
      .strictObject({ algorithm: z.literal('age'), recipients: z.array(z.string()).describe('Public keys only.') })
      .optional(),
    backup: z
      .strictObject({ name: z.string(), size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })
      .describe('The stored file: its name, size and the sha256 of the stored bytes (after compression and encryption).'),
    complete: z
      .strictObject({
        exitStatus: z.literal(true),
        endMarker: z.string().optional().describe("The dump tool's end marker that was found; absent when the format has none."),
      })
      .describe('Why the dump is known to be complete.'),
    tables: z.array(tableSchema).optional().describe('Per table, what was dumped (the native driver; see `missing` for others).'),
    objects: z
      .array(z.string())
      .optional()
      .describe('Schema objects the dump creates, as "kind name" (views, triggers, routines, events; with pg_dump every table-of-contents entry), sorted.'),
    missing: z.array(z.string()).describe('What this driver could not record, so that nobody assumes a check that cannot run.'),
  })
  .describe('onedump backup manifest, stored as NAME.manifest.json next to each backup.');

export type BackupManifest = z.infer<typeof manifestSchema>;
export type ManifestTable = z.infer<typeof tableSchema>;

/** The manifest's JSON Schema (`onedump manifest schema`). */
export function manifestJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://github.com/liweiyi88/onedump/schemas/backup-manifest-v${MANIFEST_VERSION}.json`,
    title: 'onedump backup manifest',
    ...(z.toJSONSchema(manifestSchema, { target: 'draft-2020-12' }) as Record<string, unknown>),
  };
}

export function manifestKey(backupKey: string): string {
  return backupKey + MANIFEST_SUFFIX;
}

export function isSidecar(key: string): boolean {
  // NAME.lease.json (src/jobs/lease.ts) is a job's lease, not a backup.
  return key.endsWith(KEEP_SUFFIX) || key.endsWith('.lease.json') || SIDECAR_SUFFIXES.some((s) => key.endsWith(s));
}

/** Stores a small JSON document next to a backup; never half visible (the backend's put commits it whole). */
export async function putJson(storage: Storage, key: string, doc: unknown, signal?: AbortSignal): Promise<void> {
  const body = Buffer.from(JSON.stringify(doc, null, 2) + '\n');
  await storage.put(key, Readable.from([body]), { size: body.length, signal });
}

/** Reads a backup's manifest; undefined when there is none (older backups). A manifest that is not valid is an error. */
export async function readManifest(storage: Storage, backupKey: string, signal?: AbortSignal): Promise<BackupManifest | undefined> {
  const key = manifestKey(backupKey);
  if (!(await storage.stat(key))) return undefined;
  const doc = await readJson(storage, key, signal);
  const parsed = manifestSchema.safeParse(doc);
  if (!parsed.success) {
    const v = (doc as { version?: unknown })?.version;
    if (typeof v === 'number' && v > MANIFEST_VERSION) {
      throw new Error(`${storage.describe(key)} is a version ${v} manifest; this onedump reads version ${MANIFEST_VERSION}: upgrade onedump.`);
    }
    throw new Error(`${storage.describe(key)} is not a valid onedump manifest (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}).`);
  }
  return parsed.data;
}

export async function readJson(storage: Storage, key: string, signal?: AbortSignal): Promise<unknown> {
  const stream = await storage.get(key, { signal });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    size += c.length;
    // A manifest is a few KiB (a few MiB with thousands of tables); anything far larger is not one.
    if (size > 64 * 1024 * 1024) throw new Error(`${storage.describe(key)} is larger than 64 MiB: not an onedump manifest.`);
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new Error(`${storage.describe(key)} is not valid JSON (${errorMessage(err)}).`);
  }
}

/** Deletes a backup's manifest and verification record, if any (retention, prune). */
export async function deleteSidecars(d: Pick<Destination, 'storage'>, backupKey: string): Promise<string[]> {
  const deleted: string[] = [];
  for (const suffix of SIDECAR_SUFFIXES) {
    const key = backupKey + suffix;
    if (await d.storage.stat(key)) {
      await d.storage.delete(key);
      deleted.push(key);
    }
  }
  return deleted;
}

export interface ManifestInput {
  job: CompressionKeys & { name: string; dbdriver: string; options?: string[]; encrypt?: { recipients: string[] } };
  dsn: { engine: 'mysql' | 'postgres'; host?: string; port?: number; socket?: string; database?: string };
  info?: DumpInfo;
  /** The tables as the dump stream showed them (see dump/tally.ts). */
  tally?: TableTallyEntry[];
  objects?: string[];
  startedAt: string;
  finishedAt: string;
  name: string;
  size: number;
  sha256: string;
  onedump: string;
}

/** The stream's tally, with the dumper's own row counts where it has them (the native driver). */
function tables(i: ManifestInput): ManifestTable[] | undefined {
  if (!i.tally?.length) return undefined;
  const own = new Map((i.info?.tables ?? []).map((t) => [`${t.database ?? ''}\0${t.name}`, t.rows]));
  return i.tally.map((t) => {
    const rows = own.get(`${t.database ?? ''}\0${t.name}`) ?? t.rows;
    return { ...(t.database !== undefined ? { database: t.database } : {}), name: t.name, ...(rows !== undefined ? { rows } : {}), bytes: t.bytes, crc32: t.crc32 };
  });
}

export function buildManifest(i: ManifestInput): BackupManifest {
  const info = i.info ?? {};
  const missing = [...(info.missing ?? [])].filter((m) => !(i.tally && m.startsWith('per-table row counts') && i.tally.some((t) => t.rows !== undefined)));
  if (!i.tally) missing.push('per-table content checksums (this dump format is not SQL text)');
  else if (!i.tally.length) missing.push('per-table content checksums (no table data sections in the dump, e.g. --compact or --skip-comments)');
  if (!info.binlog) missing.push('binlog coordinates (binlog off on the source, or not reported by this driver)');
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    onedump: i.onedump,
    job: i.job.name,
    driver: i.job.dbdriver,
    ...(i.job.options ? { options: i.job.options.map((o) => (/^(--password|-p.)/.test(o) ? o.replace(/^(--password=?|-p).*/, '$1***') : o)) } : {}),
    source: {
      engine: i.dsn.engine,
      ...(info.server ? { server: info.server } : {}),
      ...(i.dsn.socket ? { socket: i.dsn.socket } : { host: i.dsn.host ?? (i.dsn.engine === 'mysql' ? '127.0.0.1' : 'localhost'), port: i.dsn.port ?? (i.dsn.engine === 'mysql' ? 3306 : 5432) }),
    },
    ...(info.databases?.length ? { databases: info.databases } : i.dsn.database ? { databases: [i.dsn.database] } : {}),
    startedAt: i.startedAt,
    finishedAt: i.finishedAt,
    ...(info.binlog ? { binlog: { file: info.binlog.file, position: info.binlog.position } } : {}),
    compression: compressionOf(i.job),
    ...(i.job.encrypt?.recipients.length ? { encryption: { algorithm: 'age' as const, recipients: [...i.job.encrypt.recipients] } } : {}),
    backup: { name: i.name, size: i.size, sha256: i.sha256 },
    complete: { exitStatus: true, ...(info.endMarker ? { endMarker: info.endMarker } : {}) },
    ...(tables(i) ? { tables: tables(i) } : {}),
    ...(i.objects ? { objects: i.objects } : {}),
    missing,
  };
}
