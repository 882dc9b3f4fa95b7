import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import cron from 'node-cron';
import { configSchema, jobSchema, type Config, type JobConfig } from './schema.js';
import { formatIssues, formatPath } from './issues.js';
import { interpolate, type InterpolationProblem } from './interpolate.js';
import { ENC_PREFIX, decryptSecret, loadKeyMaterial } from './secrets.js';
import { parseDsn, DsnError, type ParsedDsn } from './dsn.js';
import { metaOf } from './fields.js';
import { YamlProblem, decodeConfigBytes, parseYaml, quote } from './yaml.js';
import { driverEngine } from '../dump/drivers.js';
import { registerSecret } from '../util/redact.js';
import { ConfigError } from '../util/errors.js';
import { parseDuration } from '../util/duration.js';
import { isRandomSchedule } from '../jobs/random-schedule.js';
import { storageBackends } from '../storage/registry.js';
import { expandHome } from '../storage/local.js';
import { recipientProblem, recipientsProblem } from '../crypto/age.js';
import { LEVEL_RANGE, compressionOf } from '../jobs/compression.js';
import { zstdAvailable, zstdNeedsNode } from '../jobs/parallel-compress.js';

export interface LoadedConfig {
  config: Config;
  /** Where it came from, for messages. */
  source: string;
  /** Parsed DSN of each job, by job name. */
  dsns: Map<string, ParsedDsn>;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Reads a config from a URL such as s3://bucket/key; provided by the CLI so config/ stays free of storage I/O. */
  fetchRemote?: (url: string) => Promise<string | Uint8Array>;
}

/** Larger than any real config (a thousand jobs are some 300 kB); the parser's own limits are in yaml.ts. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** Problems listed in full; the rest are counted (the first ones are what to fix first). */
export const MAX_PROBLEMS = 20;
const topSchema = configSchema.omit({ jobs: true });

/** Reads, interpolates and validates a config file; throws ConfigError listing every problem (exit 2). */
export async function loadConfig(source: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const bytes = await readConfigBytes(source, opts);
  if (bytes.length > MAX_CONFIG_BYTES) throw new ConfigError([`is ${bytes.length} bytes; a config file over 4 MiB is surely not one`], source);
  let text: string;
  try {
    text = typeof bytes === 'string' ? bytes : decodeConfigBytes(bytes);
  } catch (err) {
    if (err instanceof YamlProblem) throw new ConfigError([err.message], source);
    throw err;
  }
  return parseConfigText(text, source, opts.env ?? process.env);
}

async function readConfigBytes(source: string, opts: LoadOptions): Promise<string | Uint8Array> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) && !source.startsWith('file://')) {
    if (!opts.fetchRemote) throw new ConfigError([`cannot load a config from ${source}: remote configs are not supported here`]);
    try {
      return await opts.fetchRemote(source);
    } catch (err) {
      throw new ConfigError([`cannot read the config: ${(err as Error).message}`], source);
    }
  }
  const path = expandHome(source.startsWith('file://') ? new URL(source).pathname : source);
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new ConfigError(['is a folder, not a config file'], source);
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError([`is ${st.size} bytes; a config file over 4 MiB is surely not one`], source);
    return await readFile(path);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'the config file does not exist (check the path given to -c/--config or ONEDUMP_CONFIG)'
        : code === 'EACCES'
          ? 'the config file is not readable by this user (check its permissions)'
          : `the config file cannot be read (${code ?? (err as Error).message})`;
    throw new ConfigError([why], source);
  }
}

/** Validates config text; every problem is collected before anything is reported. */
export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    if (err instanceof YamlProblem) throw new ConfigError([err.message], source);
    throw err;
  }
  if (raw === null || raw === undefined) throw new ConfigError(['the config file is empty (it needs at least a jobs: list)'], source);
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(['the config must be a YAML mapping with a jobs: list at the top level'], source);
  }

  const interpProblems: InterpolationProblem[] = [];
  let data = interpolate(withoutNulls(raw), env, interpProblems);
  const problems = new ProblemList(followOnOf(interpProblems));
  for (const p of interpProblems) problems.push(`${p.path}: ${p.message}`);
  data = decryptAll(data, env, problems, '');

  // The top level, then each job on its own: a job's issues are formatted and counted, not all kept (400,000
  // issues of 100,000 empty jobs held at once took 700 MB), and the well-formed jobs are still cross-checked.
  const { jobs: rawJobs, ...top } = data as Record<string, unknown>;
  const topParsed = topSchema.safeParse(top, { reportInput: true });
  if (!topParsed.success) for (const line of formatIssues(configSchema, topParsed.error.issues)) problems.push(line);
  const ok: Array<[JobConfig, number]> = [];
  let jobsOk = true;
  const report = (issues: ReadonlyArray<z.core.$ZodIssue>, at: PropertyKey[]) => {
    jobsOk = false;
    for (const line of formatIssues(configSchema, issues.map((i) => ({ ...i, path: [...at, ...i.path] }) as z.core.$ZodIssue))) problems.push(line);
  };
  if (Array.isArray(rawJobs) && rawJobs.length) {
    rawJobs.forEach((j, i) => {
      const r = jobSchema.safeParse(j, { reportInput: true });
      if (r.success) ok.push([r.data, i]);
      else report(r.error.issues, ['jobs', i]);
    });
  } else {
    const r = configSchema.shape.jobs.safeParse(rawJobs, { reportInput: true });
    if (!r.success) report(r.error.issues, ['jobs']);
  }
  const dsns = checkJobs(ok, problems);
  if (topParsed.success) checkSchedule(topParsed.data.schedule, topParsed.data.timezone, '', problems);
  if (problems.total || !topParsed.success || !jobsOk) throw new ConfigError(problems.shown, source, problems.total);
  const config: Config = { ...topParsed.data, jobs: ok.map(([j]) => j) };
  registerConfigSecrets(configSchema, config);
  return { config, source, dsns };
}

/**
 * `notifier:` with nothing after it is null, and the Go tool's YAML library reads a null as the field's zero value:
 * an absent key. So does onedump, for every key of every mapping (list items stay as written).
 */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
    return out;
  }
  return value;
}

/** A problem line stays a line (keys and values are already quoted short; this is the backstop). */
function clipLine(line: string): string {
  return line.length > 2000 ? `${line.slice(0, 2000)}…` : line;
}

/** Where problems go: the first MAX_PROBLEMS are kept, all are counted. */
interface ProblemSink {
  push(line: string): unknown;
}

class ProblemList implements ProblemSink {
  readonly shown: string[] = [];
  total = 0;
  constructor(private readonly followOn: (line: string) => boolean) {}
  push(line: string): void {
    if (this.followOn(line)) return;
    this.total++;
    if (this.shown.length < MAX_PROBLEMS) this.shown.push(clipLine(line));
  }
}

/**
 * An unset `${VAR}` leaves its value empty, which the schema and the DSN checks then report again for the same path
 * ("must not be empty", "required"): one cause, one line.
 */
function followOnOf(interp: InterpolationProblem[]): (line: string) => boolean {
  if (!interp.length) return () => false;
  const own = new Set(interp.map((p) => `${p.path}: ${p.message}`));
  const paths = new Set(interp.map((p) => p.path));
  return (line) => {
    if (own.has(line)) return false;
    for (let i = line.indexOf(': '); i !== -1; i = line.indexOf(': ', i + 1)) if (paths.has(line.slice(0, i))) return true;
    return false;
  };
}

function decryptAll(value: unknown, env: NodeJS.ProcessEnv, problems: ProblemSink, path: string): unknown {
  if (typeof value === 'string' && value.startsWith(ENC_PREFIX)) {
    const key = loadKeyMaterial(env);
    if (!key) {
      problems.push(`${path}: is encrypted but no key was found (set ONEDUMP_SECRET_KEY or ONEDUMP_SECRET_KEY_FILE)`);
      return value;
    }
    try {
      const plain = decryptSecret(value, key);
      registerSecret(plain);
      return plain;
    } catch (err) {
      problems.push(`${path}: ${(err as Error).message}`);
      return value;
    }
  }
  if (Array.isArray(value)) return value.map((v, i) => decryptAll(v, env, problems, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decryptAll(v, env, problems, path ? `${path}.${k}` : k)]));
  }
  return value;
}

/** Checks that need more than one field: DSNs, driver/DSN agreement, SSH completeness, names, schedules. */
function checkJobs(jobs: Array<[JobConfig, number]>, problems: ProblemSink): Map<string, ParsedDsn> {
  const dsns = new Map<string, ParsedDsn>();
  const seen = new Map<string, number>();
  jobs.forEach(([job, i]) => {
    const at = (k: string) => formatPath(['jobs', i, k]);
    const prev = seen.get(job.name);
    if (prev !== undefined) problems.push(`${at('name')}: duplicate job name ${quote(job.name)} (also jobs[${prev}])`);
    seen.set(job.name, i);
    // An enc: value that did not decrypt is already reported.
    if (!job.dbdsn.startsWith(ENC_PREFIX))
      try {
        const d = parseDsn(job.dbdsn);
        const engine = driverEngine(job.dbdriver);
        if (d.engine !== engine && /^[a-z]+:\/\//i.test(job.dbdsn)) {
          problems.push(`${at('dbdsn')}: is a ${d.engine} DSN but dbdriver is ${job.dbdriver}`);
        } else if (engine === 'postgres' && !/^[a-z]+:\/\//i.test(job.dbdsn)) {
          problems.push(`${at('dbdsn')}: PostgreSQL DSNs must be URLs such as postgres://user:pass@host:5432/db`);
        } else {
          dsns.set(job.name, { ...d, engine });
        }
      } catch (err) {
        if (err instanceof DsnError) problems.push(`${at('dbdsn')}: ${err.message}`);
        else throw err;
      }
    if (job.verify?.dsn && !job.verify.dsn.startsWith(ENC_PREFIX)) {
      try {
        const v = parseDsn(job.verify.dsn);
        if (v.engine !== driverEngine(job.dbdriver)) problems.push(`${formatPath(['jobs', i, 'verify', 'dsn'])}: is a ${v.engine} DSN but dbdriver is ${job.dbdriver}`);
      } catch (err) {
        if (err instanceof DsnError) problems.push(`${formatPath(['jobs', i, 'verify', 'dsn'])}: ${err.message}`);
        else throw err;
      }
    }
    if (job.verify?.database && !job.verify.dsn) problems.push(`${formatPath(['jobs', i, 'verify', 'database'])}: goes with verify.dsn`);
    const ssh = [job.sshhost, job.sshuser, job.sshkey];
    if (ssh.some(Boolean) && !ssh.every(Boolean)) {
      problems.push(
        `jobs[${i}]: sshhost, sshuser and sshkey go together (${['sshhost', 'sshuser', 'sshkey'].filter((_, k) => !ssh[k]).join(', ')} missing)`,
      );
    }
    checkCompression(job, i, problems);
    if (job.tables?.length && job.excludetables?.length) problems.push(`jobs[${i}]: tables and excludetables cannot both be set`);
    const storages = Object.values(job.storage).reduce((n, list) => n + ((list as unknown[] | undefined)?.length ?? 0), 0);
    if (storages === 0)
      problems.push(`${at('storage')}: at least one storage entry is required (e.g. local: [{ path: /backups/app.sql }])`);
    checkSchedule(job.schedule, job.timezone, `jobs[${i}]`, problems);
    checkLease(job, i, problems);
    if (job.encrypt) {
      const bad = job.encrypt.recipients.map((r, k) => {
        const why = recipientProblem(r);
        if (why) problems.push(`${formatPath(['jobs', i, 'encrypt', 'recipients', k])}: ${why}`);
        return why;
      });
      const whole = bad.some(Boolean) ? undefined : recipientsProblem(job.encrypt.recipients);
      if (whole) problems.push(`${formatPath(['jobs', i, 'encrypt', 'recipients'])}: ${whole}`);
    }
  });
  return dsns;
}

/**
 * lock.lease needs a destination whose store has conditional writes (S3): `true` takes the job's first one, `s3[1]`
 * names one. Local, SFTP, Drive and Dropbox have none here: refused now rather than found out at 03:00.
 */
function checkLease(job: JobConfig, i: number, problems: ProblemSink): void {
  const ttl = job.lock?.ttl;
  const ttlMs = ttl === undefined ? undefined : parseDuration(ttl);
  if (ttlMs !== undefined && ttlMs < 1000) problems.push(`${formatPath(['jobs', i, 'lock', 'ttl'])}: must be at least 1s (the holder renews it every ttl/6)`);
  const lease = job.lock?.lease;
  if (!lease) return;
  const at = formatPath(['jobs', i, 'lock', 'lease']);
  const kinds = storageBackends.filter((b) => b.conditionalWrites).map((b) => b.kind);
  const count = (kind: string) => ((job.storage as Record<string, unknown[] | undefined>)[kind] ?? []).length;
  const why = 'the lease needs a store with conditional writes; local, sftp, gdrive and dropbox have none here (the local lock already covers one host)';
  if (lease === true) {
    if (!kinds.some((k) => count(k) > 0)) problems.push(`${at}: this job has no ${kinds.join(' or ')} destination: ${why}`);
    return;
  }
  const m = /^([a-z][a-z0-9]*)\[(\d+)\]$/.exec(lease);
  if (!m) problems.push(`${at}: ${quote(lease)} is not true or a destination such as s3[0]`);
  else if (!kinds.includes(m[1]!)) problems.push(`${at}: ${lease} is a ${m[1]} destination: ${why}`);
  else if (Number(m[2]) >= count(m[1]!)) problems.push(`${at}: this job has no ${lease} (it has ${count(m[1]!)} ${m[1]} destination(s))`);
}

/** gzip: true against compression:, levels against the algorithm, and zstd on a Node that has it. */
function checkCompression(job: JobConfig, i: number, problems: ProblemSink): void {
  const at = (k: string) => formatPath(['jobs', i, k]);
  if (job.gzip && job.compression && job.compression !== 'gzip') {
    problems.push(`${at('gzip')}: gzip: true contradicts compression: ${job.compression}; keep one of them`);
    return;
  }
  const { algorithm } = compressionOf(job);
  if (job.gziplevel !== undefined && algorithm !== 'gzip') problems.push(`${at('gziplevel')}: applies to gzip only, and this job's compression is ${algorithm} (use compressionlevel)`);
  if (job.gziplevel !== undefined && job.compressionlevel !== undefined && job.gziplevel !== job.compressionlevel && algorithm === 'gzip')
    problems.push(`${at('compressionlevel')}: ${job.compressionlevel} contradicts gziplevel: ${job.gziplevel}; keep one of them`);
  if (job.compressionlevel !== undefined) {
    if (algorithm === 'none') problems.push(`${at('compressionlevel')}: has no meaning without compression (set compression: zstd or gzip)`);
    else {
      const [lo, hi] = LEVEL_RANGE[algorithm];
      if (job.compressionlevel < lo || job.compressionlevel > hi) problems.push(`${at('compressionlevel')}: ${algorithm} levels go from ${lo} to ${hi}, not ${job.compressionlevel}`);
    }
  }
  if (algorithm === 'zstd' && !zstdAvailable()) problems.push(`${at('compression')}: ${zstdNeedsNode()} (use the single executable or the Docker image, or compression: gzip)`);
}

export function isDurationSchedule(s: string): boolean {
  return parseDuration(s) !== undefined;
}

function checkSchedule(schedule: string | undefined, tz: string | undefined, where: string, problems: ProblemSink): void {
  const p = (k: string) => (where ? `${where}.${k}` : k);
  if (tz) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
    } catch {
      problems.push(`${p('timezone')}: ${quote(tz)} is not an IANA time zone (e.g. UTC, Europe/Berlin)`);
    }
  }
  if (!schedule || isDurationSchedule(schedule) || isRandomSchedule(schedule)) return;
  if (!cron.validate(schedule)) {
    problems.push(`${p('schedule')}: ${quote(schedule)} is neither a cron expression (5 or 6 fields) nor a duration such as 30m or 6h`);
  }
}

/** Registers every value the schema marks secret, so logs and errors mask it. */
function registerConfigSecrets(schema: z.ZodType, value: unknown): void {
  forEachSecret(value, (v) => registerSecret(v), schema);
}

/** Calls `fn` with every string value of a config (parsed, interpolated or not) that the schema marks secret, and its path. */
export function forEachSecret(value: unknown, fn: (v: string, path: string) => void, schema: z.ZodType = configSchema): void {
  const walk = (s: z.ZodType | undefined, v: unknown, path: string) => {
    if (!s || v === undefined || v === null) return;
    if (typeof v === 'string') {
      if (metaOf(s)?.secret) fn(v, path);
      return;
    }
    const def = (x: z.ZodType) =>
      (
        x as unknown as {
          def: { type: string; innerType?: z.ZodType; element?: z.ZodType };
        }
      ).def;
    let cur = s;
    for (let i = 0; i < 6 && def(cur).innerType; i++) cur = def(cur).innerType as z.ZodType;
    if (Array.isArray(v)) {
      const el = def(cur).element;
      v.forEach((x, i) => walk(el, x, `${path}[${i}]`));
    } else if (typeof v === 'object') {
      const shape = (cur as unknown as { shape?: Record<string, z.ZodType> }).shape ?? {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(shape[k], x, path ? `${path}.${k}` : k);
    }
  };
  walk(schema, value, '');
}
