import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { treeHashes } from '../../testutils/tree.js';
import { runCliWithUmask, modeOf, octal } from '../../testutils/umask-cli.js';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';

/** sshd (and its sftp-server) started under umask 027: what a server with a group-friendly umask does. */
const SERVER_UMASK = 0o027;
let sshd: SshdInstance;
let work: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  const old = process.umask(SERVER_UMASK);
  try {
    sshd = await startSshd();
  } finally {
    process.umask(old);
  }
  work = mkdtempSync(join(tmpdir(), 'onedump-sync-modes-'));
  env = { XDG_CONFIG_HOME: join(work, 'config') };
}, 60_000);
afterAll(async () => {
  await sshd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

let seq = 0;
/** A source folder of binlog-like files, 0640 as MySQL leaves them (their mode is not copied, as with cp). */
function source(count = 4): string {
  const src = join(work, `src${++seq}`);
  mkdirSync(join(src, 'sub'), { recursive: true });
  for (let i = 1; i <= count; i++) {
    const p = join(src, i % 2 ? `mysql-bin.00000${i}` : `sub/mysql-bin.00000${i}`);
    writeFileSync(p, randomBytes(1000 + ((i * 7919) % 40_000)));
    chmodSync(p, 0o640);
  }
  return src;
}

/** Every file and folder under root with its mode. */
function modes(root: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const p = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out.set(p.slice(root.length + 1) + (e.isDirectory() ? '/' : ''), modeOf(p));
  }
  return out;
}

function expectModes(root: string, file: number, folder: number, what: string): void {
  const m = modes(root);
  expect(m.size, what).toBeGreaterThan(0);
  for (const [rel, mode] of m) expect(octal(mode), `${what}: ${rel}`).toBe(octal(rel.endsWith('/') ? folder : file));
}

const goSftp = (umask: number, args: string[]) =>
  runCliWithUmask(umask, ['sync', 'sftp', `--ssh-host=127.0.0.1:${sshd.port}`, `--ssh-user=${sshd.user}`, `--ssh-key=${sshd.keyPath}`, ...args], { env });

describe('file modes of sync, sync sftp and download', () => {
  it('onedump sync to a folder writes 0666 less the umask of the run (and folders 0777 less it), or --mode exactly', async () => {
    const src = source();
    for (const u of [0o002, 0o022, 0o027, 0o077]) {
      const dest = join(work, `local-${u.toString(8)}`);
      const r = await runCliWithUmask(u, ['sync', src + '/', dest + '/', '--recursive']);
      expect(r.code, r.stderr).toBe(0);
      expectModes(dest, 0o666 & ~u, 0o777 & ~u, `umask ${octal(u)}`);
      expect(treeHashes(dest)).toEqual(treeHashes(src));
    }
    const dest = join(work, 'local-mode');
    const r = await runCliWithUmask(0o077, ['sync', src + '/', dest + '/', '--recursive', '--mode', '0644']);
    expect(r.code, r.stderr).toBe(0);
    const m = modes(dest);
    for (const [rel, mode] of m) if (!rel.endsWith('/')) expect(octal(mode), rel).toBe('0644');
  });

  it('sync sftp (the Go form) leaves files to the server\'s umask as the Go tool did, or sets --mode exactly', async () => {
    const src = source(3);
    const dest = join(sshd.dir, 'go-default');
    const r = await goSftp(0o077, ['-s', src + '/', '-d', dest + '/']);
    expect(r.code, r.stderr).toBe(0);
    // The client's umask (077) plays no part; the server's (027) does.
    expectModes(dest, 0o666 & ~SERVER_UMASK, 0o777 & ~SERVER_UMASK, 'sync sftp');
    expect(readdirSync(dest).length).toBe(2);

    const dest2 = join(sshd.dir, 'go-mode', 'deeper');
    const r2 = await goSftp(0o022, ['-s', src + '/', '-d', dest2 + '/', '--mode=0660']);
    expect(r2.code, r2.stderr).toBe(0);
    expectModes(dest2, 0o660, 0o770, 'sync sftp --mode=0660');
    expect(octal(modeOf(join(sshd.dir, 'go-mode')))).toBe('0770');
  });

  it('sync to an sftp:// URL likewise; a config entry\'s mode: is used by --storage, and --mode beats it', async () => {
    const src = source(2);
    const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.dir}/url-dest/?sshkey=${encodeURIComponent(sshd.keyPath)}&sshhostkey=${encodeURIComponent(sshd.hostKeyFingerprint)}`;
    const r = await runCliWithUmask(0o022, ['sync', src + '/', url, '--recursive']);
    expect(r.code, r.stderr).toBe(0);
    expectModes(join(sshd.dir, 'url-dest'), 0o640, 0o750, 'sync to sftp://');

    const cfg = join(work, 'jobs.yml');
    writeFileSync(
      cfg,
      `jobs:\n  - name: app\n    dbdriver: mysqldump\n    dbdsn: root@tcp(127.0.0.1:1)/x\n    storage:\n      local:\n        - path: ${work}/cfg-dest/app.sql\n          mode: "0660"\n      sftp:\n        - path: ${sshd.dir}/cfg-sftp/app.sql\n          sshhost: 127.0.0.1:${sshd.port}\n          sshuser: ${sshd.user}\n          sshkey: ${sshd.keyPath}\n          sshhostkey: ${sshd.hostKeyFingerprint}\n          mode: "0604"\n`,
    );
    const c1 = await runCliWithUmask(0o022, ['sync', src + '/', '--storage', 'app.local', '-c', cfg, '--recursive']);
    expect(c1.code, c1.stderr).toBe(0);
    for (const [rel, mode] of modes(join(work, 'cfg-dest'))) if (!rel.endsWith('/')) expect(octal(mode), rel).toBe('0660');
    const c2 = await runCliWithUmask(0o022, ['sync', src + '/', '--storage', 'app.sftp', '-c', cfg, '--recursive']);
    expect(c2.code, c2.stderr).toBe(0);
    expectModes(join(sshd.dir, 'cfg-sftp'), 0o604, 0o705, 'sync --storage app.sftp');
    const c3 = await runCliWithUmask(0o022, ['sync', src + '/', '--storage', 'app.local', '-c', cfg, '--recursive', '--mode', '0600']);
    expect(c3.code, c3.stderr).toBe(0);
    for (const [rel, mode] of modes(join(work, 'cfg-dest'))) if (!rel.endsWith('/')) expect(octal(mode), rel).toBe('0600');
  });

  it('download writes 0666 less the umask, or --mode exactly', async () => {
    const src = source(3);
    for (const u of [0o022, 0o027, 0o007]) {
      const dir = join(work, `dl-${u.toString(8)}`);
      const r = await runCliWithUmask(u, ['download', `file://${src}/`, dir]);
      expect(r.code, r.stderr).toBe(0);
      expectModes(dir, 0o666 & ~u, 0o777 & ~u, `download, umask ${octal(u)}`);
      expect(treeHashes(dir)).toEqual(treeHashes(src));
    }
    const dir = join(work, 'dl-mode');
    const r = await runCliWithUmask(0o077, ['download', `file://${src}/`, dir, '--mode', '0640']);
    expect(r.code, r.stderr).toBe(0);
    for (const [rel, mode] of modes(dir)) if (!rel.endsWith('/')) expect(octal(mode), rel).toBe('0640');
  });

  it('a bad --mode, or --mode for a destination without modes, is one sentence and exit 2, before anything is sent', async () => {
    const src = source(1);
    const cases: Array<[string[], RegExp]> = [
      [['sync', src + '/', join(work, 'never') + '/', '--mode', '0400'], /^onedump: --mode must let the owner read and write \(first digit 6 or 7, e\.g\. "0640"\) \(got "0400"\)\.$/],
      [['sync', src + '/', join(work, 'never') + '/', '--mode', '999'], /^onedump: --mode must be an octal mode of three digits such as "0640" \(got "999"\)\.$/],
      [['download', `file://${src}/`, join(work, 'never'), '--mode=rw-r--r--'], /^onedump: --mode must be an octal mode/],
      [['download', 's3', '-b', 'bkt', '-p', 'x', '-d', join(work, 'never'), '--mode', '644x'], /^onedump: --mode must be an octal mode/],
      [['sync', src + '/', 's3://bkt/x/?endpoint=http%3A%2F%2F127.0.0.1%3A1&region=us-east-1', '--mode', '0640'], /^onedump: --mode applies to local and sftp destinations only; s3:\/\/bkt\/x\/ is s3 storage\.$/],
    ];
    for (const [args, re] of cases) {
      const r = await runCliWithUmask(0o022, args, { env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' } });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim(), args.join(' ')).toMatch(re);
      expect(r.stderr.trim().split('\n').length).toBe(1);
    }
    expect(readdirSync(work).includes('never')).toBe(false);
  });

  it('dump jobs keep backups 0600 under any umask and follow a storage\'s mode:', async () => {
    const m = sharedMariaDB();
    const db = uniqueName('modes');
    const c = await m.connect();
    await c.query(`CREATE DATABASE ${db}`);
    await c.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY)`);
    await c.query(`INSERT INTO ${db}.t VALUES (1), (2)`);
    await c.end();
    try {
      const out = join(work, 'dumps');
      const cfg = join(work, 'dump.yml');
      writeFileSync(
        cfg,
        `jobs:\n  - name: d\n    dbdriver: mysql\n    dbdsn: ${m.user}:${m.password}@tcp(${m.host}:${m.port})/${db}\n    storage:\n      local:\n        - path: ${out}/default.sql\n        - path: ${out}/group.sql\n          mode: "0640"\n      sftp:\n        - path: ${sshd.dir}/dumps/remote.sql\n          sshhost: 127.0.0.1:${sshd.port}\n          sshuser: ${sshd.user}\n          sshkey: ${sshd.keyPath}\n          sshhostkey: ${sshd.hostKeyFingerprint}\n          mode: "0644"\n`,
      );
      const r = await runCliWithUmask(0o002, ['dump', '-c', cfg]);
      expect(r.code, r.stderr).toBe(0);
      expect(octal(modeOf(join(out, 'default.sql')))).toBe('0600');
      expect(octal(modeOf(join(out, 'group.sql')))).toBe('0640');
      expect(octal(modeOf(join(sshd.dir, 'dumps', 'remote.sql')))).toBe('0644');
      expect(octal(modeOf(join(sshd.dir, 'dumps')))).toBe('0755');
    } finally {
      const c2 = await m.connect();
      await c2.query(`DROP DATABASE IF EXISTS ${db}`);
      await c2.end();
    }
  });
});
