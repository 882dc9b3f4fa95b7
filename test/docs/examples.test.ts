import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT, runCli, type CliResult } from '../../testutils/cli.js';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { docExamples, examplesOf, parseOnly, type DocExample } from './doc-examples.js';

// Every `onedump …` command in the fenced shell blocks of README.md, development.md and docs/*.md:
// 1. parses with the real program (commands, flags, choices, operand counts, the flags' own value checks), and
// 2. is run here when it can be — against the README's own config, a copy of it pointed at the run's MariaDB, fixture
//    logs and binlogs, and throwaway folders — and exits as the documentation says; the others are listed in NOT_RUN
//    with the reason. An example in neither list fails the test: a new example is classified when it is written.

const examples = docExamples();
const key = (e: DocExample) => e.argv.join(' ');
const where = (e: DocExample) => `${e.file}:${e.line}: onedump ${key(e)}`;

/** The folders an example runs in (created in beforeAll). */
interface Dirs {
  /** The README's config as written (${DB_PASS}, db.internal): validate, --dry-run and export only. */
  readme: string;
  /** The README's config pointed at the run's MariaDB and a local folder: it really dumps. */
  live: string;
  /** A config with local destinations holding backups, for mark, prune, status and ls. */
  retention: string;
  /** Anything else (slow logs, binlogs, sync, completion). */
  misc: string;
}

interface Run {
  dir: keyof Dirs;
  /** The documented paths replaced by throwaway or fixture ones. */
  paths?: (d: Dirs) => Record<string, string>;
  env?: Record<string, string>;
  input?: string;
  code: number;
  check?: (r: CliResult, d: Dirs) => void;
}

const FIXTURES = join(ROOT, 'test', 'fixtures');
const json = (r: CliResult) => JSON.parse(r.stdout) as Record<string, unknown>;

const RUN: Record<string, Run> = {
  'config validate -c jobs.yml': { dir: 'readme', env: { DB_PASS: 'pw' }, code: 0 },
  'dump -c jobs.yml --dry-run': {
    dir: 'readme',
    env: { DB_PASS: 'pw' },
    code: 0,
    check: (r) => {
      expect(r.stdout + r.stderr).toContain('app-nightly');
      expect(existsSync('/backups/app.sql')).toBe(false);
    },
  },
  'dump -c jobs.yml': { dir: 'live', code: 0, check: (_r, d) => expect(backups(d.live)).toHaveLength(1) },
  'dump -c jobs.yml --job app-nightly --json': { dir: 'live', code: 0, check: (r) => expect(json(r).ok).toBe(true) },
  '-f jobs.yml': { dir: 'live', code: 0 },
  'dump -c jobs.yml --metrics-textfile /var/lib/node-exporter/textfile/onedump.prom --expected-interval 1d': {
    dir: 'live',
    paths: (d) => ({ '/var/lib/node-exporter/textfile/onedump.prom': join(d.live, 'onedump.prom') }),
    code: 0,
    check: (_r, d) =>
      expect(readFileSync(join(d.live, 'onedump.prom'), 'utf8')).toMatch(
        /onedump_job_expected_interval_seconds\{job="app-nightly"\} 86400/,
      ),
  },
  'export kubernetes -c jobs.yml --namespace backups': {
    dir: 'readme',
    code: 0,
    check: (r) => expect(r.stdout).toContain('kind: CronJob'),
  },
  'export kubernetes -c jobs.yml --daemon': { dir: 'readme', code: 0, check: (r) => expect(r.stdout).toContain('kind: Deployment') },
  'export systemd -c jobs.yml --out /etc/systemd/system': {
    dir: 'readme',
    paths: (d) => ({ '/etc/systemd/system': join(d.readme, 'systemd') }),
    code: 0,
    check: (_r, d) =>
      expect(readdirSync(join(d.readme, 'systemd')).sort()).toEqual(['onedump-app-nightly.service', 'onedump-app-nightly.timer']),
  },
  'slow /var/log/mysql/slow.log.gz': {
    dir: 'misc',
    paths: () => ({ '/var/log/mysql/slow.log.gz': join(FIXTURES, 'slowlogs', 'short', 'slowlog_mysql.log.gz') }),
    code: 0,
    check: (r) => expect(r.stdout).toMatch(/SELECT/i),
  },
  // README (an installed release) and docs/docker.md (`docker run --rm onedump --version`): the CLI here.
  '--version': { dir: 'misc', code: 0, check: (r) => expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\S*\n$/) },
  'config schema': { dir: 'misc', code: 0, check: (r) => expect(json(r).$schema).toBeDefined() },
  'config encrypt': { dir: 'misc', input: 's3cret', code: 0, check: (r) => expect(r.stdout).toMatch(/^enc:v1:/) },
  'completion bash': { dir: 'misc', code: 0, check: (r) => expect(r.stdout).toContain('complete -F _onedump onedump') },
  'completion zsh': { dir: 'misc', code: 0, check: (r) => expect(r.stdout).toMatch(/^#compdef onedump/) },
  'completion fish': { dir: 'misc', code: 0, check: (r) => expect(r.stdout).toContain('complete -c onedump') },
  'binlog events /var/lib/mysql/mysql-bin.000042': {
    dir: 'misc',
    paths: () => ({ '/var/lib/mysql/mysql-bin.000042': join(FIXTURES, 'mysql84', 'mysql-bin.000002') }),
    code: 0,
    check: (r) => expect(r.stdout).toMatch(/Format_desc|FORMAT_DESCRIPTION/i),
  },
  'binlog events /backups/binlogs --json': {
    dir: 'misc',
    paths: () => ({ '/backups/binlogs': join(FIXTURES, 'mysql84') }),
    code: 0,
    check: (r) => {
      // One JSON object per line with the `type` the doc's jq filter selects on (these MySQL 8.4 binlogs were
      // written with gtid_mode OFF: Anonymous_Gtid; a GTID server writes "Gtid", src/binlog/event-types.ts).
      const events = r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string });
      expect(events.filter((e) => e.type === 'Anonymous_Gtid').length).toBe(14);
    },
  },
  'tz load --dry-run': { dir: 'misc', code: 0, check: (r) => expect(r.stdout).toContain('mysql.time_zone_name') },
  'mark -c jobs.yml --job app 20261201030000-app.sql.gz --keep': {
    dir: 'retention',
    code: 0,
    check: (_r, d) => expect(existsSync(join(d.retention, 'backups', '20261201030000-app.sql.gz.keep'))).toBe(true),
  },
  'mark -c jobs.yml --job app 20261201030000-app.sql.gz --no-keep': {
    dir: 'retention',
    code: 0,
    check: (_r, d) => expect(existsSync(join(d.retention, 'backups', '20261201030000-app.sql.gz.keep'))).toBe(false),
  },
  'prune -c jobs.yml --dry-run': { dir: 'retention', code: 0, check: (r) => expect(r.stdout).toMatch(/would delete/) },
  'prune -c jobs.yml --job app': { dir: 'retention', code: 0 },
  'prune -c jobs.yml --dry-run --json': { dir: 'retention', code: 0, check: (r) => expect(json(r).dryRun).toBe(true) },
  // docs/retention.md: `onedump status -c jobs.yml [--job app] [--json]`, with the optional parts.
  'status -c jobs.yml --job app --json': { dir: 'retention', code: 0, check: (r) => expect(json(r).ok).toBe(true) },
  'ls /backups/': {
    dir: 'retention',
    paths: (d) => ({ '/backups/': join(d.retention, 'backups') + '/' }),
    code: 0,
    check: (r) => expect(r.stdout).toContain('20261201030000-app.sql.gz'),
  },
  'ls -c jobs.yml --job app-nightly': { dir: 'retention', code: 0, check: (r) => expect(r.stdout).toContain('20261130030000-app.sql.gz') },
  'sync /var/backups/ /mnt/nas/backups/ --checksum': {
    dir: 'misc',
    paths: (d) => ({ '/var/backups/': join(d.misc, 'var-backups') + '/', '/mnt/nas/backups/': join(d.misc, 'nas') + '/' }),
    code: 0,
    check: (_r, d) => expect(readFileSync(join(d.misc, 'nas', 'a.sql.gz'), 'utf8')).toBe('a backup\n'),
  },
  'sync ./exports/ s3://b/exports/ --dry-run': {
    dir: 'misc',
    code: 0,
    check: (r) => expect(r.stdout + r.stderr).toMatch(/dry run: 1 file/),
  },
};

const S3 = 'needs an S3 bucket (the s3 backend is tested against s3rver in test/storage/)';
const SFTP = 'needs an SSH host (tested against a local sshd in test/sync/ and test/storage/)';
const NOT_RUN: Record<string, string> = {
  'dump --dsn root@unix(/run/mysqld/mysqld.sock)/test --driver mysqldump --to ./backups/test.sql --gzip':
    'the Quickstart: a MariaDB on /run/mysqld/mysqld.sock with a test database (one-off dumps: test/cli/dump.test.ts)',
  '--daemon -c jobs.yml --health-port 9464': 'runs until SIGTERM (the daemon: test/daemon/)',
  '-f jobs.yml -c 1h': 'runs every hour until SIGTERM (test/daemon/, test/cli/go-forms.test.ts)',
  'binlog query --dsn root:${DB_PASS}@tcp(127.0.0.1:3306)/': 'needs a MySQL server on 127.0.0.1:3306 (test/binlog/)',
  'binlog restore --dir /backups/binlogs --dump-file app.sql.gz --stop-datetime 2026-11-28 14:05:00':
    'needs a server, a dump and its binlogs (test/binlog/)',
  'tz load --dsn root:${DB_PASS}@tcp(127.0.0.1:3306)/': 'needs a MySQL server on 127.0.0.1:3306 (test/binlog/)',
  'dump -c /config/jobs.yml': 'docker run / docker compose: Docker cannot run on these machines (docs/docker.md)',
  'dump -c jobs.yml --pushgateway - --pushgateway-label instance=db1': 'needs the Pushgateway at push.example.com (a real one: test/jobs/)',
  'slow path': 'a synopsis (placeholders)',
  'slow -f PATH -p GLOB -l N -m BOOL -d mysql': 'a synopsis (placeholders)',
  'dump --dsn root@tcp(127.0.0.1:3306)/app --to s3://my-backups/app/app.sql?region=ap-southeast-2': S3,
  'dump -c s3://my-config-bucket/onedump/jobs.yml': S3,
  'download s3://backups/app/?endpoint=https://minio.internal:9000&forcepathstyle=true ./restore/': S3,
  'dump --dsn root@tcp(127.0.0.1:3306)/app --to sftp://backup@backup.example.com:2222/var/backups/app.sql': SFTP,
  'sync ./binlogs sftp://backup@backup.example.com/var/backups/binlogs/?sshkey=/etc/onedump/id_ed25519': SFTP,
  'sync /var/backups/ s3://my-bucket/backups/?region=ap-southeast-2 --recursive --checksum': S3,
  'sync /var/lib/mysql/ sftp://backup@nas.example.com:2222/srv/binlogs/ --pattern mysql-bin.* --checksum': SFTP,
  'sync ./exports/ --storage app.s3 -c jobs.yml --checksum --delete-source-after': S3,
  'sync sftp --source=/path/to/file.txt --destination=/var/lib/mysql --ssh-host=remote.com --ssh-user=root --ssh-key=base64 content or ssh file name or ssh private key raw content':
    SFTP,
  'sync sftp --source=/path/to/folder/ --destination=/var/lib/mysql --ssh-host=remote.com:2222 --ssh-user=root --ssh-key=~/.ssh/id_ed25519 --checksum=true --pattern=binlog.*':
    SFTP,
  'download s3://my-bucket/binlogs/?region=ap-southeast-2 /restore/binlogs': S3,
  'download sftp://backup@nas:2222/srv/backups/ ./backups --parallel 4 --ssh-key ~/.ssh/id_ed25519': SFTP,
  'download s3://my-bucket/binlogs/ ./binlogs --dry-run': `${S3}; a dry run still lists the bucket`,
  'download s3 --bucket my-bucket --prefix binlogs --dir ./binlogs': S3,
  'binlog sync --to s3://my-bucket/binlogs/?region=ap-southeast-2 --checksum --save-log': `a server's binlogs and ${S3}`,
  'binlog sync --to sftp://backup@nas/srv/binlogs/ --checksum': `a server's binlogs; ${SFTP}`,
  'binlog sync-s3 --s3-bucket=your-bucket --s3-prefix=binlogs --checksum=true --save-log=true': `a server's binlogs and ${S3}`,
  'ls s3://backups/app/ --json': S3,
  'verify -c jobs.yml --job app-nightly': 'a restore drill: scratch database servers and real backups (test/jobs/verify*)',
  'verify -c jobs.yml --job app-nightly --destination s3[0] --backup 20261128030000-app.sql.gz': S3,
  'verify s3://backups/app/20261128030000-app.sql.gz.age --identity ops-backup.key': S3,
  'verify -c jobs.yml --job app --server -': 'a restore drill on the server "scratch" (test/jobs/verify*)',
};

function backups(dir: string): string[] {
  return readdirSync(join(dir, 'backups')).filter((f) => /^\d{14}-app\.sql\.gz$/.test(f));
}

let work: string;
let dirs: Dirs;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'onedump-docs-'));
  dirs = { readme: join(work, 'readme'), live: join(work, 'live'), retention: join(work, 'retention'), misc: join(work, 'misc') };
  for (const d of Object.values(dirs)) mkdirSync(join(d, 'backups'), { recursive: true });

  // The README's config (the first YAML block of "Using it"), as written, and pointed at the run's MariaDB.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const yml = /## Using it[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(yml, 'the README config block').toBeDefined();
  writeFileSync(join(dirs.readme, 'jobs.yml'), yml!);
  const m = sharedMariaDB();
  const db = uniqueName('docs');
  const c = await m.connect();
  await c.query(`CREATE DATABASE ${db}`);
  await c.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY); INSERT INTO ${db}.t VALUES (1), (2)`);
  await c.end();
  const live = parse(yml!) as { jobs: Array<{ dbdsn: string; schedule?: string; storage: { local: Array<{ path: string }> } }> };
  for (const j of live.jobs) {
    j.dbdsn = m.dsn(db);
    j.storage.local[0]!.path = join(dirs.live, 'backups', 'app.sql');
  }
  writeFileSync(join(dirs.live, 'jobs.yml'), stringify(live));

  const job = (name: string) =>
    `  - name: ${name}\n    dbdriver: mysqldump\n    dbdsn: root@tcp(127.0.0.1:3306)/app\n    gzip: true\n    unique: true\n    storage:\n      local:\n        - path: ${join(dirs.retention, 'backups', 'app.sql')}\n          keep: 7\n`;
  writeFileSync(join(dirs.retention, 'jobs.yml'), `jobs:\n${job('app')}${job('app-nightly')}`);
  for (const t of ['20261201030000', '20261130030000']) writeFileSync(join(dirs.retention, 'backups', `${t}-app.sql.gz`), 'x');

  mkdirSync(join(dirs.misc, 'var-backups'));
  writeFileSync(join(dirs.misc, 'var-backups', 'a.sql.gz'), 'a backup\n');
  mkdirSync(join(dirs.misc, 'exports'));
  writeFileSync(join(dirs.misc, 'exports', 'e.csv'), 'x\n');
  // config encrypt needs a key (docs: `onedump config encrypt --generate-key < /dev/null` once).
  const gen = await runCli(['config', 'encrypt', '--generate-key'], { env: { ONEDUMP_SECRET_KEY_FILE: join(dirs.misc, 'secret.key') } });
  expect(gen.code, gen.stderr).toBe(0);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the documentation's onedump examples", () => {
  it('are found (README, docs/*.md), and each is either run or listed with the reason it is not', () => {
    expect(examples.length).toBeGreaterThan(50);
    const unclassified = examples.filter((e) => !(key(e) in RUN) && !(key(e) in NOT_RUN)).map(where);
    expect(unclassified, 'classify these in RUN or NOT_RUN').toEqual([]);
    // No stale entries: every listed example is still in the docs.
    const keys = new Set(examples.map(key));
    expect([...Object.keys(RUN), ...Object.keys(NOT_RUN)].filter((k) => !keys.has(k))).toEqual([]);
  });

  it('every example parses with the real CLI: its commands, flags, choices and operands exist', async () => {
    const failures: string[] = [];
    for (const e of examples) {
      const err = await parseOnly(e.argv, e.synopsis);
      if (err) failures.push(`${where(e)}\n    ${err}`);
    }
    expect(failures).toEqual([]);
  });

  it('the parse check refuses what does not exist', async () => {
    expect(await parseOnly(['dump', '-c', 'jobs.yml', '--no-such-flag'])).toMatch(/unknown option '--no-such-flag'/);
    expect(await parseOnly(['dump', '--driver', 'oracle'])).toMatch(/Allowed choices are mysql, mysqldump, postgresql, pgdump/);
    expect(await parseOnly(['dump', '--compression', 'lz4'])).toMatch(/--compression must be one of/);
    expect(await parseOnly(['bakcup', '-c', 'jobs.yml'])).toMatch(/unknown command "bakcup"/);
    expect(await parseOnly(['config', 'validate', 'a.yml', 'b.yml'])).toMatch(/too many arguments/);
    expect(await parseOnly(['--daemon', 'ls', '--health-port', '1'])).toMatch(/unknown option '--health-port'/);
    // …and so does the extraction, from a Markdown text.
    const doc = '```sh\nonedump prune -c jobs.yml --keep-last 3   # comment\n```\n```yaml\nnot: onedump --nothing\n```\n';
    const [e, ...rest] = examplesOf('x.md', doc);
    expect(rest).toEqual([]);
    expect(e!.argv).toEqual(['prune', '-c', 'jobs.yml', '--keep-last', '3']);
    expect(await parseOnly(e!.argv)).toMatch(/unknown option '--keep-last'/);
  });

  const runnable = examples.filter((e, i) => key(e) in RUN && examples.findIndex((x) => key(x) === key(e)) === i);
  // In document order within a folder (mark --keep before --no-keep); the four folders at once.
  it('the examples that can run here exit as documented', async () => {
    expect(runnable.length).toBeGreaterThanOrEqual(25);
    const groups = new Map<keyof Dirs, DocExample[]>();
    for (const e of runnable) groups.set(RUN[key(e)]!.dir, [...(groups.get(RUN[key(e)]!.dir) ?? []), e]);
    const failures: string[] = [];
    await Promise.all(
      [...groups.values()].map(async (group) => {
        for (const e of group) {
          const run = RUN[key(e)]!;
          const paths = run.paths?.(dirs) ?? {};
          const args = e.argv.map((a) => paths[a] ?? a);
          const r = await runCli(args, {
            cwd: dirs[run.dir],
            input: run.input,
            env: { ONEDUMP_SECRET_KEY_FILE: join(dirs.misc, 'secret.key'), ONEDUMP_LOCK_DIR: join(work, 'locks'), ...e.env, ...run.env },
            timeoutMs: 120_000,
          });
          try {
            expect(r.code, r.stderr).toBe(run.code);
            run.check?.(r, dirs);
          } catch (err) {
            failures.push(
              `${where(e)}\n    exit ${r.code}: ${(err as Error).message.split('\n')[0]}\n    ${r.stderr.trim().split('\n').slice(0, 3).join('\n    ')}`,
            );
          }
        }
      }),
    );
    expect(failures).toEqual([]);
  }, 600_000);
});
