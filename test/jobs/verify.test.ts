import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Connection } from 'mysql2/promise';
import type pg from 'pg';
import { runCli } from '../../testutils/cli.js';
import { sharedMariaDB, sharedPostgres, uniqueName } from '../../testutils/servers.js';
import { startS3, type S3Server } from '../../testutils/s3.js';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { startGDriveServer, type GDriveServer } from '../../testutils/gdrive-server.js';
import { startDropboxServer, type DropboxServer } from '../../testutils/dropbox-server.js';
import { createMysqlCorpus } from '../dump/mysql-corpus.js';
import { createPgCorpus } from '../dump/pg-corpus.js';

const EMAIL = 'verify@onedump-test.iam.gserviceaccount.com';
const FOLDER = 'verify-folder';
const APP = { clientId: 'app-key-v', clientSecret: 'app-secret-v', refreshToken: 'refresh-token-v' };
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

const m = sharedMariaDB();
const p = sharedPostgres();
const mdb = uniqueName('verify_src');
const pdb = uniqueName('verify_pg');
let c: Connection;
let admin: pg.Client;
let s3: S3Server;
let sshd: SshdInstance;
let drive: GDriveServer;
let dropbox: DropboxServer;
const out = mkdtempSync(join(tmpdir(), 'onedump-verify-'));

beforeAll(async () => {
  [s3, sshd, drive, dropbox] = await Promise.all([
    startS3(['verify']),
    startSshd(),
    startGDriveServer({ accounts: { [EMAIL]: publicKey.export({ type: 'spki', format: 'pem' }).toString() }, folders: [FOLDER] }),
    startDropboxServer({ ...APP }),
  ]);
  c = await m.connect();
  await createMysqlCorpus(c, mdb, { bigRows: 3000 });
  admin = await p.connect();
  await createPgCorpus(admin, p.connect, pdb);
}, 240_000);
afterAll(async () => {
  await c?.query(`DROP DATABASE IF EXISTS \`${mdb}\``);
  await c?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${pdb}`);
  await admin?.end();
  await Promise.allSettled([s3?.stop(), sshd?.stop(), drive?.close(), dropbox?.close()]);
});

const env = () => ({
  DB_PASS: m.password,
  S3_SECRET: s3.secretAccessKey,
  GDRIVE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  ONEDUMP_GDRIVE_BASE_URL: drive.url,
  ONEDUMP_DROPBOX_BASE_URL: dropbox.url,
  ONEDUMP_VERIFY_DSN: m.dsn(),
});

function storages(name: string, opts: { keep?: number; clouds?: boolean } = {}): string {
  const keep = opts.keep ? `\n          keep: ${opts.keep}` : '';
  return `
    storage:
      local:
        - path: ${out}/${name}/local/app.sql${keep}
      s3:
        - bucket: verify
          key: ${name}/app.sql
          region: us-east-1
          endpoint: ${s3.endpoint}
          forcepathstyle: true
          checksums: when_required
          access-key-id: ${s3.accessKeyId}
          secret-access-key: \${S3_SECRET}${keep}
      sftp:
        - path: ${sshd.dir}/${name}/app.sql
          sshhost: 127.0.0.1:${sshd.port}
          sshuser: ${sshd.user}
          sshkey: ${sshd.keyPath}
          sshknownhosts: ${sshd.knownHostsPath}${keep}${
            opts.clouds
              ? `
      gdrive:
        - filename: app.sql
          folderid: ${FOLDER}
          email: ${EMAIL}
          privatekey: \${GDRIVE_KEY}${keep}
      dropbox:
        - path: /${name}/app.sql
          refreshtoken: ${APP.refreshToken}
          clientid: ${APP.clientId}
          clientsecret: ${APP.clientSecret}${keep}`
              : ''
          }
`;
}

interface VerifyJson {
  ok: boolean;
  manifest: boolean;
  sha256: { ok?: boolean };
  tables: Array<{ table: string; ok: boolean }>;
  objects?: { expected: number; restored: number };
  differences: string[];
  restoreMs?: number;
}

async function verify(args: string[], expectCode: number, extraEnv: Record<string, string> = {}): Promise<VerifyJson> {
  const r = await runCli(['verify', ...args, '--json'], { env: { ...env(), ...extraEnv }, timeoutMs: 180_000 });
  expect(r.code, r.stderr + r.stdout).toBe(expectCode);
  expect(r.stdout + r.stderr).not.toContain(m.password);
  try {
    return JSON.parse(r.stdout) as VerifyJson;
  } catch {
    throw new Error(`verify ${args.join(' ')} printed no JSON: ${r.stdout} ${r.stderr}`);
  }
}

describe('onedump verify: restore drills of the type-torture corpus', () => {
  const drivers: Array<[string, string]> = [
    ['native', `dbdriver: mysql\n    dbdsn: ${m.user}:\${DB_PASS}@tcp(${m.host}:${m.port})/${mdb}`],
    ['mysqldump', `dbdriver: mysqldump\n    dbdsn: ${m.user}:\${DB_PASS}@tcp(${m.host}:${m.port})/${mdb}`],
    ['pgdump', `dbdriver: pgdump\n    dbdsn: ${p.dsn(pdb)}`],
  ];
  for (const [name, driver] of drivers) {
    it(`${name}: the backup verifies at local (throwaway server), S3 and SFTP (scratch database), every table identical`, { timeout: 300_000 }, async () => {
      const cfg = join(out, `${name}.yml`);
      writeFileSync(cfg, `jobs:\n  - name: ${name}\n    ${driver}\n    gzip: true\n${storages(name)}`);
      const d = await runCli(['dump', '-c', cfg], { env: env(), timeoutMs: 120_000 });
      expect(d.code, d.stderr).toBe(0);
      // The scratch server's DSN (with its password) comes from the environment, never argv.
      const server = ['--server', '-'];
      const serverEnv: Record<string, string> = name === 'pgdump' ? { ONEDUMP_VERIFY_DSN: p.dsn() } : {};
      for (const [dest, extra] of [
        ['local[0]', []],
        ['s3[0]', server],
        ['sftp[0]', server],
      ] as Array<[string, string[]]>) {
        const v = await verify(['-c', cfg, '--job', name, '--destination', dest, ...extra], 0, serverEnv);
        expect(v.ok, `${dest}: ${v.differences.join('; ')}`).toBe(true);
        expect(v.manifest).toBe(true);
        expect(v.sha256.ok).toBe(true);
        expect(v.tables.length).toBeGreaterThanOrEqual(name === 'pgdump' ? 2 : 5);
        expect(v.tables.every((t) => t.ok)).toBe(true);
        // The corpus's views, triggers, routines and events (pg: its whole table of contents) all came back.
        expect(v.objects?.expected, dest).toBeGreaterThanOrEqual(name === 'pgdump' ? 4 : 2);
        expect(v.objects?.restored).toBe(v.objects?.expected);
        expect(v.restoreMs).toBeGreaterThan(0);
      }
      // The result is recorded next to the backup and `ls` shows it.
      expect(existsSync(join(out, name, 'local', 'app.sql.gz.verify.json'))).toBe(true);
      const ls = await runCli(['ls', '-c', cfg, '--json'], { env: env() });
      expect(ls.code, ls.stderr).toBe(0);
      const listed = JSON.parse(ls.stdout) as { destinations: Array<{ destination: string; backups: Array<{ name: string; manifest: boolean; verified?: { ok: boolean } }> }> };
      expect(listed.destinations.map((x) => [x.destination, x.backups.map((b) => [b.name, b.manifest, b.verified?.ok])])).toEqual([
        ['local[0]', [['app.sql.gz', true, true]]],
        ['s3[0]', [['app.sql.gz', true, true]]],
        ['sftp[0]', [['app.sql.gz', true, true]]],
      ]);
    });
  }

  it('one altered row makes verify fail naming its table; a truncated backup fails too; both are recorded', { timeout: 300_000 }, async () => {
    const cfg = join(out, 'tamper.yml');
    writeFileSync(cfg, `jobs:\n  - name: tamper\n    dbdriver: mysql\n    dbdsn: ${m.user}:\${DB_PASS}@tcp(${m.host}:${m.port})/${mdb}\n    storage:\n      local:\n        - path: ${out}/tamper/app.sql\n`);
    const d = await runCli(['dump', '-c', cfg], { env: env() });
    expect(d.code, d.stderr).toBe(0);
    const file = join(out, 'tamper', 'app.sql');
    const good = readFileSync(file);
    // One value of one row of t_big (its payload ends in the row number), same length: only that table's data changes.
    const text = good.toString('latin1');
    const at = text.indexOf('INSERT INTO `t_big`');
    expect(at).toBeGreaterThan(0);
    const digit = text.indexOf("row-7'", at) + 4;
    expect(digit).toBeGreaterThan(at);
    writeFileSync(file, Buffer.concat([good.subarray(0, digit), Buffer.from('8'), good.subarray(digit + 1)]));
    const v = await verify(['-c', cfg, '--job', 'tamper', '--server', '-'], 1);
    expect(v.sha256.ok).toBe(false);
    expect(v.differences.filter((x) => x.startsWith('table ')).map((x) => x.split(':')[0])).toEqual(['table t_big']);
    expect(v.tables.filter((t) => !t.ok).map((t) => t.table)).toEqual(['t_big']);
    const rec = JSON.parse(readFileSync(`${file}.verify.json`, 'utf8'));
    expect(rec.ok).toBe(false);
    // Cut in the middle of the data: the restore itself fails.
    writeFileSync(file, good.subarray(0, Math.floor(good.length / 2)));
    const t = await verify(['-c', cfg, '--job', 'tamper', '--server', '-'], 1);
    expect(t.ok).toBe(false);
    expect(t.differences.join(' ')).toMatch(/the restore drill failed: the mysql client exited with code 1/);
    // A gzip backup cut short fails as one clear sentence too.
    writeFileSync(file, gzipSync(good).subarray(0, 2000));
    const g = await verify([`${out}/tamper/app.sql`, '--server', '-'], 1);
    expect(g.differences.join(' ')).toMatch(/the restore drill failed: .*(unexpected end of file|incomplete)/i);
    // No scratch database is left behind on the shared server.
    const [dbs] = (await c.query("SHOW DATABASES LIKE 'onedump_verify_%'")) as unknown as [unknown[]];
    expect(dbs).toEqual([]);
  });

  it('an encrypted backup verifies with --identity, and without it says what is missing (exit 2)', { timeout: 300_000 }, async () => {
    const keys = mkdtempSync(join(tmpdir(), 'onedump-verify-keys-'));
    const key = join(keys, 'id.txt');
    const r = spawnSync('age-keygen', ['-o', key], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const recipient = spawnSync('age-keygen', ['-y', key], { encoding: 'utf8' }).stdout.trim();
    const cfg = join(out, 'enc.yml');
    writeFileSync(
      cfg,
      `jobs:\n  - name: enc\n    dbdriver: mysqldump\n    dbdsn: ${m.user}:\${DB_PASS}@tcp(${m.host}:${m.port})/${mdb}\n    gzip: true\n    unique: true\n    encrypt:\n      recipients: [${recipient}]\n${storages('enc')}`,
    );
    const d = await runCli(['dump', '-c', cfg], { env: env() });
    expect(d.code, d.stderr).toBe(0);
    const v = await verify(['-c', cfg, '--job', 'enc', '--destination', 'sftp[0]', '--identity', key, '--server', '-'], 0);
    expect(v.ok, v.differences.join('; ')).toBe(true);
    const no = await runCli(['verify', '-c', cfg, '--job', 'enc', '--server', '-'], { env: env() });
    expect(no.code).toBe(2);
    expect(no.stderr).toMatch(/is an encrypted \(age\) backup: pass --identity FILE/);
  });

  it('ls --json lists exactly the backups retention keeps, with their manifests, on all five backends', { timeout: 300_000 }, async () => {
    const cfg = join(out, 'keep.yml');
    writeFileSync(cfg, `jobs:\n  - name: keep\n    dbdriver: pgdump\n    dbdsn: ${p.dsn(pdb)}\n    unique: true\n${storages('keep', { keep: 2, clouds: true })}`);
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await runCli(['dump', '-c', cfg, '--json'], { env: env() });
      expect(d.code, d.stderr).toBe(0);
      names.push((JSON.parse(d.stdout) as { jobs: Array<{ fileName: string }> }).jobs[0]!.fileName);
      // Unique names have a one-second resolution.
      await new Promise((res) => setTimeout(res, 1100));
    }
    const ls = await runCli(['ls', '-c', cfg, '--json'], { env: env() });
    expect(ls.code, ls.stderr).toBe(0);
    const listed = JSON.parse(ls.stdout) as { destinations: Array<{ destination: string; backups: Array<{ name: string; manifest: boolean; sha256?: string }> }> };
    expect(listed.destinations.map((x) => x.destination)).toEqual(['local[0]', 's3[0]', 'gdrive[0]', 'dropbox[0]', 'sftp[0]']);
    for (const dest of listed.destinations) {
      expect(dest.backups.map((b) => b.name), dest.destination).toEqual([names[2], names[1]]);
      expect(dest.backups.every((b) => b.manifest && /^[0-9a-f]{64}$/.test(b.sha256 ?? ''))).toBe(true);
    }
    // The deleted backup's manifest went with it.
    expect(readdirSync(join(out, 'keep', 'local')).sort()).toEqual([names[1], `${names[1]}.manifest.json`, names[2], `${names[2]}.manifest.json`].sort());
  });
});
