import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { runCli } from '../../testutils/cli.js';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { startS3, type S3Server } from '../../testutils/s3.js';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { startGDriveServer, type GDriveServer } from '../../testutils/gdrive-server.js';
import { startDropboxServer, type DropboxServer } from '../../testutils/dropbox-server.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const EMAIL = 'five@onedump-test.iam.gserviceaccount.com';
const FOLDER = 'five-folder';
const APP = { clientId: 'app-key-five', clientSecret: 'app-secret-five', refreshToken: 'refresh-token-five' };
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

describe('one dump job writing to all five storages at once', () => {
  const m = sharedMariaDB();
  const db = uniqueName('five');
  let s3: S3Server;
  let sshd: SshdInstance;
  let drive: GDriveServer;
  let dropbox: DropboxServer;

  beforeAll(async () => {
    [s3, sshd, drive, dropbox] = await Promise.all([
      startS3(['five']),
      startSshd(),
      startGDriveServer({ accounts: { [EMAIL]: publicKey.export({ type: 'spki', format: 'pem' }).toString() }, folders: [FOLDER] }),
      startDropboxServer({ ...APP }),
    ]);
    const c = await m.connect();
    await c.query(`CREATE DATABASE ${db}`);
    await c.query(`CREATE TABLE ${db}.orders (id INT PRIMARY KEY, note VARCHAR(60), blob_col BLOB)`);
    await c.query(`INSERT INTO ${db}.orders SELECT seq, CONCAT('order ', seq), UNHEX(SHA2(seq, 256)) FROM ${db}.seq_1_to_30000`);
    await c.end();
  }, 180_000);

  afterAll(async () => {
    const c = await m.connect();
    await c.query(`DROP DATABASE IF EXISTS ${db}`);
    await c.end();
    await Promise.allSettled([s3?.stop(), sshd?.stop(), drive?.close(), dropbox?.close()]);
  });

  it('every copy is the same bytes as the reported sha256, and each destination verified it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onedump-five-'));
    const cfg = join(out, 'jobs.yml');
    writeFileSync(
      cfg,
      `
jobs:
  - name: five
    dbdriver: mysql
    dbdsn: ${m.user}:\${DB_PASS}@tcp(${m.host}:${m.port})/${db}
    gzip: true
    storage:
      local:
        - path: ${out}/local/app.sql
      s3:
        - bucket: five
          key: backups/app.sql
          region: us-east-1
          endpoint: ${s3.endpoint}
          forcepathstyle: true
          checksums: when_required
          access-key-id: ${s3.accessKeyId}
          secret-access-key: \${S3_SECRET}
      gdrive:
        - filename: app.sql
          folderid: ${FOLDER}
          email: ${EMAIL}
          privatekey: \${GDRIVE_KEY}
      dropbox:
        - path: /backups/app.sql
          refreshtoken: ${APP.refreshToken}
          clientid: ${APP.clientId}
          clientsecret: ${APP.clientSecret}
      sftp:
        - path: ${sshd.dir}/backups/app.sql
          sshhost: 127.0.0.1:${sshd.port}
          sshuser: ${sshd.user}
          sshkey: ${sshd.keyPath}
          sshknownhosts: ${sshd.knownHostsPath}
          sha256sum: true
`,
    );
    const r = await runCli(['dump', '-c', cfg, '--json'], {
      env: {
        DB_PASS: m.password,
        S3_SECRET: s3.secretAccessKey,
        GDRIVE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        ONEDUMP_GDRIVE_BASE_URL: drive.url,
        ONEDUMP_DROPBOX_BASE_URL: dropbox.url,
      },
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(m.password);
    const res = JSON.parse(r.stdout) as { jobs: Array<{ ok: boolean; sha256: string; bytes: number; destinations: Array<{ name: string; ok: boolean; bytes?: number }> }> };
    const job = res.jobs[0]!;
    expect(job.ok).toBe(true);
    expect(job.destinations.map((d) => [d.name, d.ok, d.bytes])).toEqual(
      ['local[0]', 's3[0]', 'gdrive[0]', 'dropbox[0]', 'sftp[0]'].map((n) => [n, true, job.bytes]),
    );

    const s3obj = await s3.client().send(new GetObjectCommand({ Bucket: 'five', Key: 'backups/app.sql.gz' }));
    const copies: Record<string, Buffer> = {
      local: readFileSync(join(out, 'local', 'app.sql.gz')),
      s3: Buffer.from(await s3obj.Body!.transformToByteArray()),
      gdrive: drive.filesIn(FOLDER).find((f) => f.name === 'app.sql.gz')!.data,
      dropbox: dropbox.filesUnder('/backups/app.sql.gz')[0]!.data,
      sftp: readFileSync(join(sshd.dir, 'backups', 'app.sql.gz')),
    };
    for (const [where, data] of Object.entries(copies)) expect(sha256(data), where).toBe(job.sha256);
    const sql = gunzipSync(copies.local!).toString();
    expect(sql).toContain('CREATE TABLE `orders`');
    expect(sql.match(/\(\d+,'order \d+',0x[0-9a-f]{64}\)/g)?.length).toBe(30000);
  });
});
