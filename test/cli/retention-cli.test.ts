import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../testutils/cli.js';
import { timestampPrefix } from '../../src/jobs/naming.js';

/** prune / mark / status on backups placed by hand (names only, no manifests): bad input, text and exit codes. */
let dir: string;
let cfg: string;
const names: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'onedump-prune-'));
  mkdirSync(join(dir, 'out'));
  // Twelve nightly backups of a job with no manifests (written before manifests existed): times come from the names.
  for (let i = 0; i < 12; i++) {
    const n = `${timestampPrefix(new Date(Date.UTC(2026, 10, 20 + i, 3, 0, 0)))}-app.sql.gz`;
    writeFileSync(join(dir, 'out', n), `backup ${i}`);
    names.push(n);
  }
  writeFileSync(join(dir, 'out', 'notes.txt'), 'not a backup');
  cfg = join(dir, 'jobs.yml');
  writeFileSync(
    cfg,
    `jobs:
  - name: app
    dbdriver: mysqldump
    dbdsn: root@tcp(127.0.0.1:1)/app
    gzip: true
    unique: true
    storage:
      local:
        - path: ${dir}/out/app.sql
          keep: { last: 2, weekly: 2 }
  - name: other
    dbdriver: mysqldump
    dbdsn: root@tcp(127.0.0.1:1)/other
    storage:
      local:
        - path: ${dir}/other/other.sql
`,
  );
});

describe('onedump prune / mark / status: input and output', () => {
  it('prune --dry-run lists every backup with its reason and deletes nothing', async () => {
    const r = await runCli(['prune', '-c', cfg, '--job', 'app', '--dry-run']);
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, 'out')).length).toBe(13);
    // 2026-11-20..12-01: newest two (12-01, 11-30), then weekly: W49 starts Mon 11-30, so the newest of W48 (Sun 11-29).
    expect(r.stdout).toContain(`keep         ${names[11]}  last (1 of 2); weekly 2026-W49 (1 of 2)`);
    expect(r.stdout).toContain(`keep         ${names[10]}  last (2 of 2)`);
    expect(r.stdout).toContain(`keep         ${names[9]}  weekly 2026-W48 (2 of 2)`);
    expect(r.stdout).toContain(`would delete ${names[8]}  not kept by keep last 2, weekly 2`);
    expect(r.stdout).toContain('9 would delete, 3 kept');
    expect(r.stdout).not.toContain('notes.txt');
  });

  it('mark then prune: the marked backup stays; the others go; notes.txt is untouched', async () => {
    expect((await runCli(['mark', '-c', cfg, '--job', 'app', names[0]!, '--keep'])).code).toBe(0);
    const again = await runCli(['mark', '-c', cfg, '--job', 'app', names[0]!, '--keep', '--json']);
    expect(JSON.parse(again.stdout).destinations[0]).toMatchObject({ destination: 'local[0]', changed: false });
    const r = await runCli(['prune', '-c', cfg, '--job', 'app', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.dryRun).toBe(false);
    expect(out.jobs[0].destinations[0].deleted.sort()).toEqual(names.slice(1, 9));
    expect(readdirSync(join(dir, 'out')).sort()).toEqual([names[0], `${names[0]}.keep`, ...names.slice(9), 'notes.txt'].sort());
  });

  it('bad input is one sentence and exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['prune', '-c', cfg, '--job', 'nope'], /^onedump: no job named "nope" in the config \(jobs: app, other\)\.\n$/],
      [['status', '-c', cfg, '--job', 'nope'], /^onedump: no job named "nope" in the config/],
      [['mark', '-c', cfg, names[0]!, '--keep'], /^onedump: the config has 2 jobs: say which with --job \(app, other\)\.\n$/],
      [['mark', '-c', cfg, '--job', 'app', `out/${names[0]}`, '--keep'], /^onedump: give the backup's file name \(e\.g\. .*\), not a path\.\n$/],
      [['binlog', 'sync', '--to', `${dir}/binlogs/`, '--keep-for-pitr', '--dsn', 'root@tcp(127.0.0.1:1)/'], /^onedump: --keep-for-pitr needs -c CONFIG \(and --job NAME\)/],
      [['prune'], /^onedump: no config file given/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args, { env: { ONEDUMP_CONFIG: '' } });
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.code, args.join(' ')).toBe(2);
    }
  });

  it('status without binlogs: the dumps are single instants; a destination that cannot be listed is exit 1', async () => {
    const r = await runCli(['status', '-c', cfg, '--job', 'app', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout).jobs[0];
    expect(s.newestBackup.name).toBe(names[11]);
    expect(s.earliest).toBe('2026-11-20T03:00:00.000Z');
    expect(s.latest).toBe('2026-12-01T03:00:00.000Z');
    expect(s.windows).toHaveLength(4);
    // The other job has no backup at all: a problem.
    const o = await runCli(['status', '-c', cfg, '--job', 'other']);
    expect(o.code).toBe(1);
    expect(o.stdout).toContain('problem: no backup to restore');
    // A destination folder that is a file: prune and status say so and exit 1 (they cannot know what is there).
    writeFileSync(join(dir, 'blocked'), 'a file');
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, `jobs:\n  - name: b\n    dbdriver: mysqldump\n    dbdsn: root@tcp(127.0.0.1:1)/b\n    unique: true\n    storage:\n      local:\n        - path: ${dir}/blocked/b.sql\n          keep: 2\n`);
    for (const cmd of ['prune', 'status']) {
      const denied = await runCli([cmd, '-c', bad]);
      expect(denied.code, cmd).toBe(1);
      expect(denied.stdout + denied.stderr, cmd).toMatch(/local\[0\] \(.*blocked\/b\.sql\).*ENOTDIR/);
    }
  });
});
