import { z } from 'zod';
import { str, described, bool, posInt, duration, secret } from './fields.js';
import { storageBackends } from '../storage/registry.js';
import { notifierBackends } from '../notify/registry.js';
import { sshFields } from '../ssh/options.js';
import { DRIVERS } from '../dump/drivers.js';
import { COMPRESSIONS } from '../jobs/compression.js';

const storageShape = Object.fromEntries(
  storageBackends.map((b) => [b.kind, described(z.array(b.options).optional(), { description: b.summary })]),
) as Record<string, z.ZodOptional<z.ZodArray<z.ZodType>>>;

export const storageSchema = z.strictObject(storageShape);

const notifierShape = Object.fromEntries(
  notifierBackends.map((b) => [b.kind, described(z.array(b.options).optional(), { description: b.summary })]),
) as Record<string, z.ZodOptional<z.ZodArray<z.ZodType>>>;

const retrySchema = z.strictObject({
  attempts: posInt({ description: 'Total tries of a job step that failed with a transient fault (default 12: rides out at least 30 s of outage).' }).optional(),
  initial: duration({ description: 'First back-off delay (default 500ms).', example: '1s' }).optional(),
  max: duration({ description: 'Longest back-off delay (default 8s).', example: '30s' }).optional(),
});

const scheduleField = described(z.string().min(1), {
  description:
    'When the daemon runs the job: a cron expression (5 or 6 fields), a duration such as 30m or 6h, or @daily-random / @hourly-random (a time spread over the day or hour, fixed by a hash of the job name and host; see docs/schedulers.md).',
  example: '0 3 * * *',
});

export const jobSchema = z.strictObject({
  name: str({ description: 'Job name, unique in the file.', example: 'app-nightly', go: true }),
  dbdriver: described(z.enum(DRIVERS), {
    description: 'mysql (native dumper), mysqldump, postgresql or pgdump (both use pg_dump).',
    example: 'mysqldump',
    go: true,
  }),
  dbdsn: secret({
    description: 'Database DSN: Go-driver form user:pass@tcp(host:port)/db, or a mysql:// / postgres:// URL.',
    example: 'root:${DB_PASS}@tcp(127.0.0.1:3306)/app',
    go: true,
  }),
  driverpath: described(z.string().optional(), { description: 'Path of the dump binary (mysqldump, mariadb-dump, pg_dump).', example: '/usr/bin/mysqldump', go: true }),
  gzip: bool({ description: 'Compress the dump with gzip (adds .gz to the file name).', go: true }, false),
  gziplevel: described(z.number().int().min(1).max(9).optional(), { description: 'gzip level 1 (fast) to 9 (small); default 6.' }),
  compression: described(z.enum(COMPRESSIONS).optional(), {
    description:
      'zstd (adds .zst; needs Node.js 22.15+, which the single executable and the Docker image have), gzip (adds .gz; the same as gzip: true) or none. Compressed on every core in independent blocks. Default: gzip when gzip: true, else none.',
    example: 'zstd',
  }),
  compressionlevel: described(z.number().int().min(1).max(19).optional(), {
    description: 'Compression level: zstd 1 (fast) to 19 (small), default 3; gzip 1 to 9, default 6 (as gziplevel).',
    example: 3,
  }),
  unique: bool({ description: 'Prefix file names with a UTC YYYYMMDDHHMMSS- timestamp.', go: true }, false),
  options: described(z.array(z.string()).optional(), { description: 'Dump options (replace the defaults).', example: ['--skip-add-drop-table'], go: true }),
  tables: described(z.array(z.string().min(1)).optional(), { description: 'Only these tables.' }),
  excludetables: described(z.array(z.string().min(1)).optional(), { description: 'Every table except these.' }),
  sshhost: sshFields.sshhost.optional(),
  sshport: sshFields.sshport,
  sshuser: sshFields.sshuser.optional(),
  sshkey: sshFields.sshkey.optional(),
  sshpassphrase: sshFields.sshpassphrase,
  sshknownhosts: sshFields.sshknownhosts,
  sshhostkey: sshFields.sshhostkey,
  schedule: scheduleField.optional(),
  timezone: described(z.string().optional(), { description: 'IANA time zone of the cron schedule.', example: 'Australia/Sydney' }),
  retry: retrySchema.meta({ description: 'Retry policy for transient faults (connection refused/reset, timeouts, 5xx).' }).optional(),
  timeout: duration({ description: 'Abort the job after this long.', example: '2h' }).optional(),
  lock: z
    .strictObject({
      lease: described(z.union([z.boolean(), z.string().min(1)]).optional(), {
        description:
          'Also take a lease object next to the backups on a destination with conditional writes (S3 If-None-Match/If-Match), so that two hosts, or two pods of a CronJob, never run this job at once: true = the first s3 destination, or one named as s3[1]. Local, sftp, gdrive and dropbox destinations cannot hold it (see docs/schedulers.md).',
        example: true,
      }),
      ttl: duration({
        description: 'A lock or lease not renewed for this long is stale and taken over (default 2m; renewed every ttl/6; at least 1s).',
        example: '10m',
      }).optional(),
    })
    .meta({ description: 'The per-job run lock (always taken unless --no-lock; see docs/schedulers.md) and its optional lease on the storage.' })
    .optional(),
  encrypt: z
    .strictObject({
      recipients: described(z.array(z.string().min(1)).min(1), {
        description:
          'age public keys the backup is encrypted to: age1… (X25519, from age-keygen) or age1pq1… (post-quantum hybrid; do not mix the two). Any one matching identity decrypts. SSH keys are not accepted.',
        example: ['age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'],
      }),
    })
    .meta({ description: 'Encrypt the backup with age (https://age-encryption.org) after compression; adds .age to the file name.' })
    .optional(),
  verify: z
    .strictObject({
      schedule: scheduleField.optional().meta({ description: 'Daemon: run a restore drill of the newest backup on this schedule (cron or duration).', example: '0 6 * * 0' }),
      destination: described(z.string().regex(/^[a-z][a-z0-9]*\[\d+\]$/, 'must name a destination such as s3[0]').optional(), {
        description: 'Which destination the drill reads (local[0], s3[0], …); default the first.',
        example: 's3[0]',
      }),
      dsn: secret({
        description: 'Restore into a scratch database on this server instead of a throwaway server onedump starts from the installed mariadbd/mysqld or postgres binaries.',
        example: 'verify:${VERIFY_PASS}@tcp(scratch-db:3306)/',
      }).optional(),
      database: str({ description: 'With dsn: the scratch database (created and dropped); default onedump_verify_<random>.', example: 'onedump_verify' }).optional(),
      identity: str({ description: 'age identity file for an encrypted job (the secret key: keep it off the database host where you can).', example: '/etc/onedump/age.key' }).optional(),
    })
    .meta({ description: 'Restore drills (`onedump verify`, and the daemon when schedule is set): restore the newest backup into a scratch server and compare every table with its manifest.' })
    .optional(),
  storage: storageSchema.meta({ description: 'Where the dump goes; every entry receives the same bytes.', go: true }),
  binlogs: z
    .strictObject({
      url: str({
        description:
          "The folder this job's server's binlogs are uploaded to by `onedump binlog sync --to URL`: the same URL (a path, s3://, sftp://, gdrive://, dropbox://; credentials as for --to).",
        example: 's3://backups/app-binlogs/',
      }),
      prune: bool({
        description:
          'After each successful run and in `onedump prune`, delete the binlog files there that no kept dump needs for point-in-time recovery (older than the oldest kept dump\'s binlog file). Default true.',
      }).default(true),
    })
    .meta({ description: "Where this job's binlogs are: for PITR-aware binlog retention and `onedump status` (see docs/retention.md)." })
    .optional(),
  healthcheck: z
    .strictObject({
      url: secret({
        description: 'Healthchecks-style ping URL: BASE/start when the run starts, BASE on success, BASE/fail on failure (with the error as the body).',
        example: 'https://hc-ping.com/${HC_UUID}',
      }).optional(),
      start: secret({ description: 'URL pinged (POST) when a run starts; overrides url/start.', example: 'https://cronitor.link/p/${KEY}/app?state=run' }).optional(),
      success: secret({ description: 'URL pinged when a run succeeds; overrides url.', example: 'https://cronitor.link/p/${KEY}/app?state=complete' }).optional(),
      failure: secret({ description: 'URL pinged when a run fails, with the error sentence as the body; overrides url/fail.', example: 'https://cronitor.link/p/${KEY}/app?state=fail' }).optional(),
    })
    .refine((h) => h.url || h.start || h.success || h.failure, 'needs url, or at least one of start, success and failure')
    .meta({ description: 'Heartbeat pings per run, so that a monitor notices a run that failed, or never started (see docs/schedulers.md).' })
    .optional(),
  maxlag: duration({
    description: '`onedump status` exits 1 when the latest instant this job can be restored to is older than this.',
    example: '2h',
  }).optional(),
});

export const configSchema = z.strictObject({
  maxjobs: posInt({ description: 'Jobs run at the same time (default 10).', go: true }).default(10),
  mode: described(z.enum(['parallel', 'sequential']).default('parallel'), { description: 'parallel (up to maxjobs at once) or sequential (one after another, in file order).' }),
  schedule: scheduleField.optional(),
  timezone: described(z.string().optional(), { description: 'IANA time zone of cron schedules.' }),
  notifier: z.strictObject(notifierShape).optional().meta({ description: 'Where job outcomes are reported.', go: true }),
  jobs: described(z.array(jobSchema).min(1, 'at least one job is required'), { description: 'The dump jobs.', go: true }),
});

export type Config = z.infer<typeof configSchema>;
export type JobConfig = z.infer<typeof jobSchema>;
export type RetryConfig = z.infer<typeof retrySchema>;
