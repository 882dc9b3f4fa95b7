import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { generateKeyPairSync, randomBytes, createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { jobSchema } from '../../src/config/schema.js';
import { parseDsn } from '../../src/config/dsn.js';
import { prepareJob, runPreparedJob } from '../../src/jobs/job.js';
import { silentLogger } from '../../src/util/logger.js';
import type { Dumper } from '../../src/dump/types.js';
import { startGDriveServer, type GDriveServer } from '../../testutils/gdrive-server.js';
import { startDropboxServer, type DropboxServer } from '../../testutils/dropbox-server.js';

/** Backup names followed by their manifests' names. */
const withManifests = (names: string[]) => names.flatMap((n) => [n, `${n}.manifest.json`]);

/** Dump jobs writing to Drive and Dropbox at once, through the real job runner, with `keep: 3` retention. */
const EMAIL = 'jobs@onedump-test.iam.gserviceaccount.com';
const FOLDER = 'jobs-folder';
const APP = { clientId: 'app-key-jobs', clientSecret: 'app-secret-jobs', refreshToken: 'refresh-token-jobs' };
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

let drive: GDriveServer;
let dropbox: DropboxServer;
const saved: Record<string, string | undefined> = {};
beforeAll(async () => {
  drive = await startGDriveServer({
    accounts: { [EMAIL]: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    folders: [FOLDER],
    maxPageSize: 2,
  });
  dropbox = await startDropboxServer({ ...APP, pageSize: 2 });
  for (const k of ['ONEDUMP_GDRIVE_BASE_URL', 'ONEDUMP_DROPBOX_BASE_URL']) saved[k] = process.env[k];
  process.env.ONEDUMP_GDRIVE_BASE_URL = drive.url;
  process.env.ONEDUMP_DROPBOX_BASE_URL = dropbox.url;
});
afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await Promise.all([drive?.close(), dropbox?.close()]);
});

/** A dumper that writes `size` random bytes and remembers their sha256. */
function fakeDumper(size: number): Dumper & { sha256?: string; runs: number } {
  const d = {
    name: 'fake',
    runs: 0,
    sha256: undefined as string | undefined,
    async dump(out: Writable) {
      d.runs++;
      const h = createHash('sha256');
      for (let sent = 0; sent < size;) {
        const b = randomBytes(Math.min(256 * 1024, size - sent));
        h.update(b);
        sent += b.length;
        if (!out.write(b)) await new Promise((r) => out.once('drain', r));
      }
      d.sha256 = h.digest('hex');
      return {};
    },
  };
  return d;
}

describe('dump jobs to Google Drive and Dropbox', () => {
  it('keep: 3 over five runs keeps the newest three at each destination and touches nothing else', async () => {
    drive.addFile(FOLDER, 'other-app.sql', Buffer.from('not ours'));
    drive.addFile(FOLDER, 'app.sql', Buffer.from('not unique, not ours'));
    drive.addFile(FOLDER, '20200101000000-app.sql.bak', Buffer.from('not ours either'));
    dropbox.addFile('/db/other-app.sql', Buffer.from('not ours'));
    dropbox.addFile('/db/nested/20200101000000-app.sql', Buffer.from('another folder'));
    const job = jobSchema.parse({
      name: 'clouds',
      dbdriver: 'mysqldump',
      dbdsn: 'root:pw@tcp(127.0.0.1:3306)/app',
      unique: true,
      storage: {
        gdrive: [
          {
            filename: 'app.sql',
            folderid: FOLDER,
            email: EMAIL,
            privatekey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
            keep: 3,
          },
        ],
        dropbox: [{ path: '/db/app.sql', refreshtoken: APP.refreshToken, clientid: APP.clientId, clientsecret: APP.clientSecret, keep: 3 }],
      },
    });
    const dumper = fakeDumper(3 * 1024 * 1024 + 11);
    const p = { ...prepareJob(job, parseDsn(job.dbdsn), silentLogger), dumper };
    const stamps: string[] = [];
    for (let day = 1; day <= 5; day++) {
      const now = new Date(Date.UTC(2026, 0, day, 3, 0, 0));
      const r = await runPreparedJob(p, { log: silentLogger, signal: new AbortController().signal, now });
      expect(r.error, r.error).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(r.destinations.map((d) => [d.name, d.ok])).toEqual([
        ['gdrive[0]', true],
        ['dropbox[0]', true],
      ]);
      stamps.push(`2026010${day}030000-app.sql`);
      // Each copy is the dump, byte for byte.
      const g = drive.filesIn(FOLDER).find((f) => f.name === stamps.at(-1))!;
      const x = dropbox.filesUnder(`/db/${stamps.at(-1)}`)[0]!;
      expect(createHash('sha256').update(g.data).digest('hex')).toBe(dumper.sha256);
      expect(createHash('sha256').update(x.data).digest('hex')).toBe(dumper.sha256);
    }
    expect(dumper.runs).toBe(5);
    // The three kept backups with their manifests; the deleted ones' manifests went with them.
    const newest = withManifests(stamps.slice(2));
    expect(
      drive
        .filesIn(FOLDER)
        .map((f) => f.name)
        .sort(),
    ).toEqual(['20200101000000-app.sql.bak', 'app.sql', 'other-app.sql', ...newest].sort());
    expect(
      dropbox
        .filesUnder('/db/')
        .map((f) => f.pathDisplay)
        .sort(),
    ).toEqual(['/db/nested/20200101000000-app.sql', '/db/other-app.sql', ...newest.map((n) => `/db/${n}`)].sort());
  });
});
