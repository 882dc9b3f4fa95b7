import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../testutils/cli.js';
import { TransferProgress } from '../../src/cli/transfer-progress.js';
import { silentLogger } from '../../src/util/logger.js';

let work: string;
let src: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'onedump-sync-cli-'));
  src = join(work, 'src');
  mkdirSync(join(src, 'deep'), { recursive: true });
  writeFileSync(join(src, 'one.sql.gz'), 'one');
  writeFileSync(join(src, 'two.txt'), 'two');
  writeFileSync(join(src, 'deep', 'three.sql.gz'), 'three');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('onedump sync (CLI)', () => {
  it('--storage JOB.KIND[N] sends into the folder of that config storage', async () => {
    const backups = join(work, 'backups');
    const cfg = join(work, 'jobs.yml');
    writeFileSync(
      cfg,
      `jobs:\n  - name: app\n    dbdriver: mysqldump\n    dbdsn: root@tcp(127.0.0.1:3306)/app\n    storage:\n      local:\n        - path: ${join(work, 'elsewhere', 'app.sql')}\n        - path: ${join(backups, 'app.sql')}\n`,
    );
    const r = await runCli(['sync', src, '--storage', 'app.local[1]', '-c', cfg, '-r', '--pattern', '*.sql.gz', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { sent: number }).sent).toBe(2);
    expect(readFileSync(join(backups, 'one.sql.gz'), 'utf8')).toBe('one');
    expect(readFileSync(join(backups, 'deep', 'three.sql.gz'), 'utf8')).toBe('three');
    expect(readdirSync(backups).sort()).toEqual(['deep', 'one.sql.gz']);

    const noJob = await runCli(['sync', src, '--storage', 'nope.local', '-c', cfg]);
    expect(noJob.code).toBe(2);
    expect(noJob.stderr).toMatch(/the config has no job "nope" \(jobs: app\)/);
    const noEntry = await runCli(['sync', src, '--storage', 'app.s3', '-c', cfg]);
    expect(noEntry.code).toBe(2);
    expect(noEntry.stderr).toMatch(/job "app" has no s3\[0\] storage/);
  });

  it('bad usage exits 2 with one sentence and sends nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['sync', src], /missing destination/],
      [['sync', join(work, 'missing'), join(work, 'd') + '/'], /source .*missing does not exist/],
      [['sync', src, join(work, 'd') + '/', '--storage', 'app.local'], /not both/],
      [['sync', src, join(work, 'd') + '/', '--parallel', '0'], /--parallel must be a whole number of at least 1/],
      [['sync', src, 'ftp://host/x'], /unknown storage URL scheme "ftp:\/\/"/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(re);
    }
    expect(() => readdirSync(join(work, 'd'))).toThrow();
  });

  it('a source folder with no matching file fails with a clear sentence (exit 1)', async () => {
    const r = await runCli(['sync', src, join(work, 'e') + '/', '--pattern', '*.nothing']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no file found for syncing in .*src matching "\*\.nothing"/);
  });
});

describe('transfer progress', () => {
  it('draws an overall line and the files in flight on a TTY, and clears them at the end', async () => {
    let out = '';
    const tty = { isTTY: true, columns: 100, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    const p = new TransferProgress(silentLogger, 'sync:', tty);
    p.plan(3, 3000);
    p.start('a.bin', 1000);
    p.start('b.bin', 2000);
    p.progress('a.bin', 500);
    p.done('b.bin', 2000);
    await new Promise((r) => setTimeout(r, 400));
    p.stop();
    expect(out).toMatch(/sync: 1\/3 files, 2\.4 KiB\/2\.9 KiB, .*\/s/);
    expect(out).toMatch(/ {2}a\.bin 500 B\/1000 B 50%/);
    expect(out).toMatch(/\x1b\[J$/); // eslint-disable-line no-control-regex
  });

  it('logs a line per interval when not on a TTY', async () => {
    const lines: string[] = [];
    const log = { info: (_o: unknown, msg: string) => lines.push(msg) } as unknown as typeof silentLogger;
    const p = new TransferProgress(log, 'download:', { isTTY: false } as NodeJS.WriteStream, 50);
    p.plan(2, 200);
    p.start('x', 100);
    p.progress('x', 50);
    await new Promise((r) => setTimeout(r, 130));
    p.stop();
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines[0]).toMatch(/^download: 0\/2 files, 50 B\/200 B/);
  });
});
