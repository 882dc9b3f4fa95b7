import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { generateKeyPairSync, randomBytes, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GDriveStorage, gdriveBackend } from '../../src/storage/gdrive.js';
import { startGDriveServer, type GDriveServer } from '../../testutils/gdrive-server.js';
import { storageContract, readAll, sha256, piecewise, failingAfter } from './contract.js';
import { storageConformance } from './conformance.js';
import { withRetries } from '../../src/storage/retrying.js';
import { PermanentError } from '../../src/util/errors.js';

const EMAIL = 'backup@onedump-test.iam.gserviceaccount.com';
const FOLDER = '1AbCdEfGh_folder-XYZ';
const CHUNK = 256 * 1024 * 2;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIV = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PUB = publicKey.export({ type: 'spki', format: 'pem' }).toString();

let server: GDriveServer;
beforeAll(async () => {
  server = await startGDriveServer({ accounts: { [EMAIL]: PUB }, folders: [FOLDER, 'other-folder'], maxPageSize: 3 });
});
afterAll(async () => {
  await server?.close();
});

const FAST = { initialMs: 20, maxMs: 200 };
function drive(o: Partial<ConstructorParameters<typeof GDriveStorage>[0]> = {}): GDriveStorage {
  return new GDriveStorage({ folderId: FOLDER, email: EMAIL, privateKey: PRIV, baseUrl: server.url, chunkSize: CHUNK, retry: FAST, ...o });
}

storageContract('gdrive', () => drive(), { chunk: CHUNK });

let conformanceFolders = 0;
storageConformance('gdrive', {
  async make() {
    // A fresh folder the service account can write to, behind the retrying wrapper as the registry builds it.
    const folder = `conformance-${++conformanceFolders}`;
    (server as unknown as { opts: { folders: string[] } }).opts.folders.push(folder);
    return withRetries(drive({ folderId: folder }));
  },
});

describe('gdrive', () => {
  it('speaks the resumable protocol as Google checks it: tokens, 256 KiB multiples, contiguous offsets', async () => {
    const before = server.chunks.length;
    const data = randomBytes(CHUNK * 3 + 1234);
    const stored = await drive().put('proto.bin', piecewise(data, 77_777));
    expect(stored.hash).toEqual({ algorithm: 'md5', value: createHash('md5').update(data).digest('hex') });
    const mine = server.chunks.slice(before);
    expect(mine.map((c) => [c.start, c.length, c.status])).toEqual([
      [0, CHUNK, 308],
      [CHUNK, CHUNK, 308],
      [CHUNK * 2, CHUNK, 308],
      [CHUNK * 3, 1234, 200],
    ]);
    expect(server.rejectedAuth).toBe(0);
    const f = server.filesIn(FOLDER).find((x) => x.name === 'proto.bin')!;
    expect(sha256(f.data)).toBe(sha256(data));
  });

  it('a 200 MB stream with the connection cut twice arrives byte-identical, resumed from the server offset', async () => {
    const s = drive({ chunkSize: 8 * 1024 * 1024 });
    const size = 200 * 1024 * 1024;
    const hash = createHash('sha256');
    let produced = 0;
    const body = new Readable({
      read() {
        if (produced >= size) return this.push(null);
        const b = randomBytes(Math.min(1 << 20, size - produced));
        produced += b.length;
        hash.update(b);
        this.push(b);
      },
    });
    const cut1 = 50 * 1024 * 1024 + 3 * 1024 * 1024 + 12345; // inside the 7th 8 MiB chunk
    const cut2 = 150 * 1024 * 1024 + 5 * 1024 * 1024 + 999;
    server.cutUploadAt(cut1, cut2);
    const sessionsBefore = server.sessions.size;
    const before = server.chunks.length;
    const stored = await s.put('big.bin', body);
    expect(stored.size).toBe(size);
    const f = server.filesIn(FOLDER).find((x) => x.name === 'big.bin')!;
    expect(sha256(f.data)).toBe(hash.digest('hex'));
    // One session: resumed, not restarted.
    expect(server.sessions.size).toBe(sessionsBefore + 1);
    const mine = server.chunks.slice(before);
    const cuts = mine.filter((c) => c.cut);
    expect(cuts).toHaveLength(2);
    // After each cut the client asked for the offset and resent from it, mid-chunk, never from zero.
    const q = 256 * 1024;
    for (const cutAt of [cut1, cut2]) {
      const kept = Math.floor(cutAt / q) * q;
      const i = mine.findIndex((c) => !c.query && c.start === kept && !c.cut && c.status === 308);
      expect(i).toBeGreaterThan(0);
      expect(mine.slice(0, i).some((c) => c.query)).toBe(true);
      expect(kept % (8 * 1024 * 1024)).not.toBe(0);
    }
    expect(mine.filter((c) => !c.query && c.start === 0)).toHaveLength(1);
  }, 180_000);

  it('a run that ultimately fails leaves nothing under the final name and keeps the old backup', async () => {
    const s = drive();
    const old = Buffer.from('yesterday');
    await s.put('keepme.sql', piecewise(old));
    await expect(s.put('keepme.sql', failingAfter(CHUNK * 3))).rejects.toThrow(/the dump failed/);
    const named = server.filesIn(FOLDER).filter((f) => f.name.startsWith('keepme.sql'));
    expect(named.map((f) => f.name)).toEqual(['keepme.sql']);
    expect(named[0]!.data.equals(old)).toBe(true);
  });

  it('a server that never comes back fails after the retry policy, leaving nothing', async () => {
    const s = drive({ retry: { attempts: 3, initialMs: 10, maxMs: 20 } });
    // Cut every upload request from the second chunk on.
    const offsets = Array.from({ length: 10 }, (_, i) => CHUNK + 1000 + i);
    server.cutUploadAt(...offsets);
    await expect(s.put('never.bin', piecewise(randomBytes(CHUNK * 4)))).rejects.toThrow(
      /Google Drive: uploading gdrive:\/\/.*never\.bin failed after retries/,
    );
    server.cutUploadAt(); // no-op; clear the rest below
    (server as unknown as { cuts: number[] }).cuts.length = 0;
    expect(server.filesIn(FOLDER).filter((f) => f.name.startsWith('never.bin'))).toEqual([]);
  });

  it('bad credentials fail at once with a sentence naming the backend, destination and fix', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const s = drive({ privateKey: other, retry: { attempts: 8, initialMs: 2000, maxMs: 8000 } });
    const t0 = Date.now();
    const err = await s.put('creds.bin', piecewise(Buffer.from('x'))).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(err).toBeInstanceOf(PermanentError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^Google Drive: the service account backup@onedump-test\.iam\.gserviceaccount\.com could not sign in/);
    expect(msg).toContain(`gdrive://${FOLDER}/creds.bin`);
    expect(msg).toMatch(/check email and privatekey/);
    expect(msg).not.toContain('PRIVATE KEY');
  });

  it('a folder that does not exist (or is not shared) fails at once, naming the fix', async () => {
    const s = drive({ folderId: 'no-such-folder', retry: { attempts: 8, initialMs: 2000, maxMs: 8000 } });
    const err = (await s.put('x.bin', piecewise(Buffer.from('x'))).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(
      /^Google Drive: folder no-such-folder was not found .*gdrive:\/\/no-such-folder\/x\.bin; check folderid and share the folder with backup@/,
    );
  });

  it('builds from config (keys of the Go tool, PEM with literal \\n) and from a gdrive:// URL with GOOGLE_APPLICATION_CREDENTIALS', async () => {
    const log = { warn() {}, info() {} } as never;
    const t = gdriveBackend.fromConfig(
      { filename: 'app.sql', folderid: FOLDER, email: EMAIL, privatekey: PRIV.replace(/\n/g, '\\n') },
      { log },
    );
    expect(t.key).toBe('app.sql');
    expect(t.storage.describe(t.key)).toBe(`gdrive://${FOLDER}/app.sql`);
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'gdrive-'));
    writeFileSync(join(dir, 'sa.json'), JSON.stringify({ type: 'service_account', client_email: EMAIL, private_key: PRIV }));
    const saved = { c: process.env.GOOGLE_APPLICATION_CREDENTIALS, b: process.env.ONEDUMP_GDRIVE_BASE_URL };
    process.env.GOOGLE_APPLICATION_CREDENTIALS = join(dir, 'sa.json');
    process.env.ONEDUMP_GDRIVE_BASE_URL = server.url;
    try {
      const u = gdriveBackend.fromUrl(new URL(`gdrive://${FOLDER}/from-url.sql`), { log });
      expect(u.key).toBe('from-url.sql');
      await u.storage.put(u.key, piecewise(Buffer.from('via url')));
      expect((await readAll(await drive().get('from-url.sql'))).toString()).toBe('via url');
      delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      expect(() => gdriveBackend.fromUrl(new URL(`gdrive://${FOLDER}/x`), { log })).toThrow(/set GOOGLE_APPLICATION_CREDENTIALS/);
    } finally {
      for (const [k, v] of [
        ['GOOGLE_APPLICATION_CREDENTIALS', saved.c],
        ['ONEDUMP_GDRIVE_BASE_URL', saved.b],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
