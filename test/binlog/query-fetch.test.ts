import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedMariaDB } from '../../testutils/servers.js';
import { FIXTURES } from './helpers.js';
import { runCliSync } from '../../testutils/cli.js';

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  return runCliSync(args, { DATABASE_DSN: undefined, TZ: 'UTC', ...env });
}

describe('binlog query', () => {
  it('reports log_bin, the current file and position, the folder, the files and GTID state (DATABASE_DSN, JSON when piped)', () => {
    const m = sharedMariaDB();
    const r = cli(['binlog', 'query'], { DATABASE_DSN: m.dsn() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain(m.password);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ flavor: 'mariadb', logBin: true, basename: m.binlogBase, prefix: 'mysql-bin' });
    expect(s.file).toMatch(/^mysql-bin\.\d{6}$/);
    expect(s.position).toBeGreaterThan(4);
    expect(s.binlogs.map((b: { name: string }) => b.name)).toContain(s.file);
    expect(s.gtid).toHaveProperty('gtid_binlog_pos');
  });

  it('the status alias with --dsn over a Unix socket', () => {
    const m = sharedMariaDB();
    const r = cli(['binlog', 'status', '--json', '--dsn', `${m.user}:${m.password}@unix(${m.socket})/`]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).logBin).toBe(true);
  });

  it('no DSN anywhere is a usage error', () => {
    const r = cli(['binlog', 'query']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('onedump: no database given: pass --dsn DSN, -c CONFIG (the first job, or --job NAME), or set DATABASE_DSN.');
  });
});

describe('binlog restore --from', () => {
  it('downloads the binlogs from a storage URL into --dir (skipping the .index) and plans from there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-from-'));
    const r = cli(['binlog', 'restore', '--from', `file://${FIXTURES}/`, '--dir', dir, '--dump-file', join(FIXTURES, 'init-db.sql.gz'), '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['mysql-bin.000001', 'mysql-bin.000002', 'mysql-bin.000003']);
    expect(r.stdout).toContain('# at 2522');
    const again = cli(['binlog', 'restore', '--from', FIXTURES, '--dir', dir, '--dump-file', join(FIXTURES, 'init-db.sql.gz'), '--dry-run']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/"downloaded":0,"skipped":3/);
  });
});
