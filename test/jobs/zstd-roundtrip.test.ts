import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Connection } from 'mysql2/promise';
import { runCli } from '../../testutils/cli.js';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { startS3, type S3Server } from '../../testutils/s3.js';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { startGDriveServer, type GDriveServer } from '../../testutils/gdrive-server.js';
import { startDropboxServer, type DropboxServer } from '../../testutils/dropbox-server.js';
import { zstdAvailable } from '../../src/jobs/parallel-compress.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const EMAIL = 'zstd@onedump-test.iam.gserviceaccount.com';
const FOLDER = 'zstd-folder';
const APP = { clientId: 'app-key-zstd', clientSecret: 'app-secret-zstd', refreshToken: 'refresh-token-zstd' };
const DESTS = ['local[0]', 's3[0]', 'gdrive[0]', 'dropbox[0]', 'sftp[0]'];
const m = sharedMariaDB();
const db = uniqueName('zstd_src');
const out = mkdtempSync(join(tmpdir(), 'onedump-zstd-'));

/** A content fingerprint of a database's tables: same rows, same values. */
async function contents(c: Connection, database: string): Promise<string[]> {
  const [rows] = (await c.query(
    `SELECT 'orders' t, COUNT(*) n, SUM(CRC32(CONCAT_WS('|', id, note, HEX(blob_col)))) s FROM \`${database}\`.orders
     UNION ALL SELECT 'notes', COUNT(*), SUM(CRC32(CONCAT_WS('|', id, body))) FROM \`${database}\`.notes`,
  )) as unknown as [Array<{ t: string; n: number; s: string }>];
  return rows.map((r) => `${r.t}:${r.n}:${r.s}`);
}

async function seed(c: Connection): Promise<void> {
  await c.query(`CREATE DATABASE ${db}`);
  await c.query(`CREATE TABLE ${db}.orders (id INT PRIMARY KEY, note VARCHAR(60), blob_col BLOB)`);
  // Over 1 MiB of dump: several zstd frames.
  await c.query(`INSERT INTO ${db}.orders SELECT seq, CONCAT('order ', seq, ' it''s "quoted"\\n'), UNHEX(SHA2(seq, 256)) FROM ${db}.seq_1_to_40000`);
  await c.query(`CREATE TABLE ${db}.notes (id INT PRIMARY KEY, body TEXT)`);
  await c.query(`INSERT INTO ${db}.notes SELECT seq, REPEAT(CONCAT('note ', seq, ' \\\\ back\\tslash '), 20) FROM ${db}.seq_1_to_3000`);
}

describe.skipIf(!zstdAvailable())('compression: zstd round trips (a Node with zstd)', () => {
  let c: Connection;
  let s3: S3Server;
  let sshd: SshdInstance;
  let drive: GDriveServer;
  let dropbox: DropboxServer;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  let key: string;
  let recipient: string;
  const env = () => ({
    DB_PASS: m.password,
    S3_SECRET: s3.secretAccessKey,
    GDRIVE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ONEDUMP_GDRIVE_BASE_URL: drive.url,
    ONEDUMP_DROPBOX_BASE_URL: dropbox.url,
    ONEDUMP_VERIFY_DSN: m.dsn(),
    ONEDUMP_RESTORE_DSN: m.dsn(),
  });
  const storages = (name: string) => `
    storage:
      local:
        - path: ${out}/${name}/local/app.sql
      s3:
        - bucket: zstd
          key: ${name}/app.sql
          region: us-east-1
          endpoint: ${s3.endpoint}
          forcepathstyle: true
          checksums: when_required
          access-key-id: ${s3.accessKeyId}
          secret-access-key: \${S3_SECRET}
      gdrive:
        - filename: ${name}-app.sql
          folderid: ${FOLDER}
          email: ${EMAIL}
          privatekey: \${GDRIVE_KEY}
      dropbox:
        - path: /${name}/app.sql
          refreshtoken: ${APP.refreshToken}
          clientid: ${APP.clientId}
          clientsecret: ${APP.clientSecret}
      sftp:
        - path: ${sshd.dir}/${name}/app.sql
          sshhost: 127.0.0.1:${sshd.port}
          sshuser: ${sshd.user}
          sshkey: ${sshd.keyPath}
          sshknownhosts: ${sshd.knownHostsPath}
`;
  let cfg: string;
  let jobs: Record<string, { ok: boolean; sha256: string; bytes: number; fileName: string; destinations: Array<{ name: string; ok: boolean }> }>;

  beforeAll(async () => {
    [s3, sshd, drive, dropbox] = await Promise.all([
      startS3(['zstd']),
      startSshd(),
      startGDriveServer({ accounts: { [EMAIL]: publicKey.export({ type: 'spki', format: 'pem' }).toString() }, folders: [FOLDER] }),
      startDropboxServer({ ...APP }),
    ]);
    c = await m.connect();
    await seed(c);
    key = join(out, 'age.key');
    expect(spawnSync('age-keygen', ['-o', key]).status).toBe(0);
    recipient = spawnSync('age-keygen', ['-y', key], { encoding: 'utf8' }).stdout.trim();
    cfg = join(out, 'jobs.yml');
    writeFileSync(
      cfg,
      `jobs:
  - name: plain
    dbdriver: mysql
    dbdsn: ${m.user}:\${DB_PASS}@tcp(${m.host}:${m.port})/${db}
    compression: zstd
${storages('plain')}
  - name: enc
    dbdriver: mysql
    dbdsn: ${m.user}:\${DB_PASS}@tcp(${m.host}:${m.port})/${db}
    compression: zstd
    compressionlevel: 6
    encrypt:
      recipients: [${recipient}]
${storages('enc')}`,
    );
    const r = await runCli(['dump', '-c', cfg, '--json'], { env: env(), timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    jobs = Object.fromEntries((JSON.parse(r.stdout) as { jobs: Array<{ job: string } & (typeof jobs)[string]> }).jobs.map((j) => [j.job, j]));
  }, 300_000);

  afterAll(async () => {
    const [dbs] = (await c?.query(`SHOW DATABASES LIKE '${db}%'`)) as unknown as [Array<Record<string, string>>];
    for (const d of dbs ?? []) await c.query(`DROP DATABASE IF EXISTS \`${Object.values(d)[0]}\``);
    await c?.end();
    await Promise.allSettled([s3?.stop(), sshd?.stop(), drive?.close(), dropbox?.close()]);
  });

  it('names the files .sql.zst and .sql.zst.age, and every storage holds the same bytes, which zstd -t and zstd -dc read', async () => {
    expect(jobs.plain!.fileName).toBe('app.sql.zst');
    expect(jobs.enc!.fileName).toBe('app.sql.zst.age');
    for (const [name, file] of [['plain', 'app.sql.zst'], ['enc', 'app.sql.zst.age']] as const) {
      const job = jobs[name]!;
      expect(job.destinations.map((d) => [d.name, d.ok])).toEqual(DESTS.map((d) => [d, true]));
      const s3obj = await s3.client().send(new GetObjectCommand({ Bucket: 'zstd', Key: `${name}/${file}` }));
      const copies: Record<string, Buffer> = {
        local: readFileSync(join(out, name, 'local', file)),
        s3: Buffer.from(await s3obj.Body!.transformToByteArray()),
        gdrive: drive.filesIn(FOLDER).find((f) => f.name === `${name}-${file}`)!.data,
        dropbox: dropbox.filesUnder(`/${name}/${file}`)[0]!.data,
        sftp: readFileSync(join(sshd.dir, name, file)),
      };
      for (const [where, data] of Object.entries(copies)) expect(sha256(data), `${name} ${where}`).toBe(job.sha256);
    }
    const local = join(out, 'plain', 'local', 'app.sql.zst');
    expect(readFileSync(local).subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe(true);
    expect(spawnSync('zstd', ['-t', '-q', local]).status).toBe(0);
    const sql = spawnSync('zstd', ['-dc', local], { maxBuffer: 256 << 20 }).stdout.toString('latin1');
    expect(sql).toContain('CREATE TABLE `orders`');
    expect(sql.match(/\(\d+,'order \d+ it\\'s \\"quoted\\"\\n',0x[0-9a-f]{64}\)/g)?.length).toBe(40000);
    // More than one frame (~1 MiB blocks), compressed well below the SQL's size.
    const list = spawnSync('zstd', ['-lv', local], { encoding: 'utf8' });
    expect(Number(/# Zstandard Frames:\s*(\d+)/.exec(list.stdout)?.[1])).toBeGreaterThan(1);
    expect(readFileSync(local).length).toBeLessThan(sql.length / 2);
    // The encrypted one: age outside, zstd inside.
    const plainOfEnc = spawnSync('sh', ['-c', `age -d -i "$1" "$2" | zstd -dc`, 'sh', key, join(out, 'enc', 'local', 'app.sql.zst.age')], { maxBuffer: 256 << 20 });
    expect(plainOfEnc.status).toBe(0);
    expect(plainOfEnc.stdout.toString('latin1')).toContain('CREATE TABLE `notes`');
    // The manifest records the compression; ls shows it.
    const manifest = JSON.parse(readFileSync(`${local}.manifest.json`, 'utf8')) as { compression: unknown };
    expect(manifest.compression).toEqual({ algorithm: 'zstd', level: 3 });
    const encManifest = JSON.parse(readFileSync(join(out, 'enc', 'local', 'app.sql.zst.age.manifest.json'), 'utf8')) as { compression: unknown };
    expect(encManifest.compression).toEqual({ algorithm: 'zstd', level: 6 });
    const ls = await runCli(['ls', '-c', cfg, '--json'], { env: env() });
    expect(ls.code, ls.stderr).toBe(0);
    const listed = JSON.parse(ls.stdout) as { destinations: Array<{ job: string; destination: string; backups: Array<{ name: string; compression: string; encrypted: boolean }> }> };
    expect(listed.destinations.map((d) => [d.job, d.destination, d.backups.map((b) => [b.name, b.compression, b.encrypted])])).toEqual([
      ...DESTS.map((d) => ['plain', d, [[d === 'gdrive[0]' ? 'plain-app.sql.zst' : 'app.sql.zst', 'zstd', false]]]),
      ...DESTS.map((d) => ['enc', d, [[d === 'gdrive[0]' ? 'enc-app.sql.zst.age' : 'app.sql.zst.age', 'zstd', true]]]),
    ]);
  });

  it('restores from every storage, encrypted and not, to the same table contents (restore drills on all five)', { timeout: 300_000 }, async () => {
    for (const job of ['plain', 'enc']) {
      for (const dest of DESTS) {
        const v = await runCli(['verify', '-c', cfg, '--job', job, '--destination', dest, '--server', '-', '--json', ...(job === 'enc' ? ['--identity', key] : [])], {
          env: env(),
          timeoutMs: 120_000,
        });
        expect(v.code, `${job} ${dest}: ${v.stderr}`).toBe(0);
        const res = JSON.parse(v.stdout) as { ok: boolean; sha256: { ok?: boolean }; tables: Array<{ table: string; ok: boolean }> };
        expect(res.ok, `${job} ${dest}`).toBe(true);
        expect(res.sha256.ok).toBe(true);
        expect(res.tables.map((t) => [t.table, t.ok])).toEqual([
          ['notes', true],
          ['orders', true],
        ]);
      }
    }
  });

  it('onedump restore loads the .zst and the .zst.age into another database with the same contents', { timeout: 120_000 }, async () => {
    const want = await contents(c, db);
    const sftpUrl = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.dir}/enc/app.sql.zst.age?sshkey=${encodeURIComponent(sshd.keyPath)}&sshknownhosts=${encodeURIComponent(sshd.knownHostsPath)}`;
    for (const [file, extra] of [
      [join(out, 'plain', 'local', 'app.sql.zst'), []],
      [sftpUrl, ['--identity', key]],
    ] as const) {
      const target = `${db}_copy${extra.length}`;
      const plan = await runCli(['restore', '--from', file, '--dsn', '-', '--target-db', target, '--dry-run', ...extra], { env: env() });
      expect(plan.code, plan.stderr).toBe(0);
      expect(plan.stdout).toMatch(/zstd, SQL\)/);
      const r = await runCli(['restore', '--from', file, '--dsn', '-', '--target-db', target, ...extra], { env: env(), timeoutMs: 100_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Restored /);
      expect(await contents(c, target)).toEqual(want);
    }
    // The encrypted local copy, which needs no SSH.
    const target = `${db}_copyenc`;
    const r = await runCli(['restore', '--from', join(out, 'enc', 'local', 'app.sql.zst.age'), '--identity', key, '--dsn', '-', '--target-db', target], { env: env(), timeoutMs: 100_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(await contents(c, target)).toEqual(want);
  });

  it('download brings the .zst and its sidecars back byte for byte', async () => {
    const dir = join(out, 'downloaded');
    const r = await runCli(['download', `s3://zstd/plain/?endpoint=${encodeURIComponent(s3.endpoint)}&region=us-east-1&forcepathstyle=true&checksums=when_required`, dir], {
      env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['app.sql.zst', 'app.sql.zst.manifest.json', 'app.sql.zst.verify.json']);
    expect(sha256(readFileSync(join(dir, 'app.sql.zst')))).toBe(jobs.plain!.sha256);
    expect(spawnSync('zstd', ['-t', '-q', join(dir, 'app.sql.zst')]).status).toBe(0);
  });

  it('a cut or corrupted .zst fails restore with exit 1 and one sentence, and nothing reports it restored', { timeout: 120_000 }, async () => {
    const good = readFileSync(join(out, 'plain', 'local', 'app.sql.zst'));
    // Cut inside the second frame (a cut at a frame boundary would be a shorter valid file, as with gzip members).
    const cut = join(out, 'cut.sql.zst');
    writeFileSync(cut, good.subarray(0, Math.floor(good.length * 0.6)));
    const bad = Buffer.from(good);
    bad[Math.floor(bad.length * 0.4)]! ^= 0x21;
    const corrupt = join(out, 'corrupt.sql.zst');
    writeFileSync(corrupt, bad);
    for (const [file, what] of [
      [cut, 'cut'],
      [corrupt, 'corrupt'],
    ] as const) {
      const target = `${db}_${what}`;
      const r = await runCli(['restore', '--from', file, '--dsn', '-', '--target-db', target], { env: env(), timeoutMs: 100_000 });
      expect(r.code, `${what}: ${r.stderr}`).toBe(1);
      expect(r.stdout).not.toMatch(/Restored/);
      const lines = r.stderr.trim().split('\n');
      expect(lines, what).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^onedump: .*${what}\\.sql\\.zst: its zstd data is cut short or corrupt \\(.+\\); the target may hold part of the dump: drop it before loading a good copy\\.$`));
      // A --json run says ok: false in no uncertain terms either.
      const j = await runCli(['restore', '--from', file, '--dsn', '-', '--target-db', `${target}_j`, '--json'], { env: env(), timeoutMs: 100_000 });
      expect(j.code).toBe(1);
      expect(j.stdout).not.toMatch(/"ok":\s*true/);
    }
    // The whole file still restores (the damage was the test's own).
    const r = await runCli(['restore', '--from', join(out, 'plain', 'local', 'app.sql.zst'), '--dsn', '-', '--target-db', `${db}_whole`], { env: env(), timeoutMs: 100_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(cut)).toBe(true);
  });
});
