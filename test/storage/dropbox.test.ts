import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomBytes, createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DropboxStorage, dropboxBackend, dropboxContentHash, DropboxContentHasher } from '../../src/storage/dropbox.js';
import { startDropboxServer, dropboxContentHash as serverHash, type DropboxServer } from '../../testutils/dropbox-server.js';
import { storageContract, readAll, sha256, piecewise, failingAfter } from './contract.js';
import { storageConformance } from './conformance.js';
import { withRetries } from '../../src/storage/retrying.js';
import { PermanentError, errorMessage } from '../../src/util/errors.js';
import { redactText } from '../../src/util/redact.js';

const APP = { clientId: 'app-key-1234', clientSecret: 'app-secret-5678', refreshToken: 'refresh-token-abcdefgh' };
const CHUNK = 1024 * 1024 + 17; // deliberately not a block multiple
let server: DropboxServer;

beforeAll(async () => {
  // 300 s tokens: the SDK renews a token within 300 s of its expiry, so it renews before every call here (the
  // server would reject an expired one with 401 expired_access_token).
  server = await startDropboxServer({ ...APP, tokenTtlSeconds: 300, pageSize: 3 });
});
afterAll(async () => {
  await server?.close();
});

const FAST = { initialMs: 20, maxMs: 200 };
function box(o: Partial<ConstructorParameters<typeof DropboxStorage>[0]> = {}): DropboxStorage {
  return new DropboxStorage({ root: '/backups', ...APP, baseUrl: server.url, chunkSize: CHUNK, retry: FAST, ...o });
}

storageContract('dropbox', () => box(), { chunk: CHUNK });

let conformanceRoots = 0;
storageConformance('dropbox', {
  async make() {
    // A fresh folder, behind the retrying wrapper as the registry builds it.
    return withRetries(box({ root: `/conformance-${++conformanceRoots}` }));
  },
});

describe('dropbox', () => {
  it('computes content_hash like Dropbox, incrementally over any piece sizes', () => {
    const data = randomBytes(9 * 1024 * 1024 + 5);
    const h = new DropboxContentHasher();
    for (let i = 0; i < data.length; i += 777_777) h.update(data.subarray(i, i + 777_777));
    expect(h.digest()).toBe(serverHash(data));
    expect(dropboxContentHash(Buffer.alloc(0))).toBe(createHash('sha256').digest('hex'));
  });

  it('uploads through a session in bounded chunks at contiguous offsets, into a temporary name, then moves', async () => {
    const before = server.uploads.length;
    const data = randomBytes(CHUNK * 3 + 5);
    const stored = await box().put('sessions.bin', piecewise(data, 50_001));
    expect(stored.hash).toEqual({ algorithm: 'dropbox-content-hash', value: serverHash(data) });
    const mine = server.uploads.slice(before);
    expect(mine.map((u) => [u.endpoint, u.offset, u.length, u.result])).toEqual([
      ['start', undefined, 0, 'ok'],
      ['append_v2', 0, CHUNK, 'ok'],
      ['append_v2', CHUNK, CHUNK, 'ok'],
      ['append_v2', CHUNK * 2, CHUNK, 'ok'],
      ['finish', CHUNK * 3, 5, 'ok'],
    ]);
    const f = server.filesUnder('/backups/sessions.bin');
    expect(f.map((x) => x.pathDisplay)).toEqual(['/backups/sessions.bin']);
    expect(f[0]!.contentHash).toBe(serverHash(data));
  });

  it("a 200 MB stream with the connection cut twice arrives byte-identical, resumed at Dropbox's offset", async () => {
    const s = box({ chunkSize: 8 * 1024 * 1024 });
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
    const M = 1024 * 1024;
    server.cutAppend(60 * M + 12345, 'mid-body'); // Dropbox kept nothing of that request
    server.cutAppend(140 * M + 999, 'after-commit'); // Dropbox kept it but the answer was lost
    const tokensBefore = server.tokensIssued;
    const before = server.uploads.length;
    const stored = await s.put('big.bin', body);
    expect(stored.size).toBe(size);
    const f = server.filesUnder('/backups/big.bin')[0]!;
    expect(sha256(f.data)).toBe(hash.digest('hex'));
    const mine = server.uploads.slice(before);
    // One session, never restarted.
    expect(mine.filter((u) => u.endpoint === 'start')).toHaveLength(1);
    expect(new Set(mine.filter((u) => u.session).map((u) => u.session)).size).toBe(1);
    const cutMid = mine.findIndex((u) => u.result === 'cut-mid-body');
    const cutCommit = mine.findIndex((u) => u.result === 'cut-after-commit');
    expect(cutMid).toBeGreaterThan(0);
    expect(cutCommit).toBeGreaterThan(cutMid);
    // Mid-body: the same chunk was sent again at the same offset.
    expect(mine[cutMid + 1]).toMatchObject({ endpoint: 'append_v2', offset: mine[cutMid]!.offset, result: 'ok' });
    // After commit: resent at the old offset, told the correct one, and went on from there.
    const lost = mine[cutCommit]!;
    expect(mine[cutCommit + 1]).toMatchObject({
      offset: lost.offset,
      result: 'incorrect_offset',
      correctOffset: lost.offset! + lost.length,
    });
    expect(mine[cutCommit + 2]).toMatchObject({ offset: lost.offset! + lost.length, result: 'ok' });
    // Offsets of successful appends are contiguous and every request is at most 8 MiB.
    let at = 0;
    for (const u of mine.filter((x) => (x.result === 'ok' || x.result === 'cut-after-commit') && x.endpoint !== 'start')) {
      expect(u.offset).toBe(at);
      expect(u.length).toBeLessThanOrEqual(8 * M);
      at += u.length;
    }
    expect(at).toBe(size);
    // Tokens were renewed during the upload, before they expired (no 401 expired_access_token).
    expect(server.tokensIssued).toBeGreaterThan(tokensBefore);
    expect(server.expiredRejected).toBe(0);
  }, 180_000);

  it('renews an access token that expired server-side (401 expired_access_token) and carries on', async () => {
    // Long-lived tokens here, so the SDK does not renew on its own and the server's 401 is what triggers renewal.
    const own = await startDropboxServer({ ...APP, tokenTtlSeconds: 3600 });
    try {
      const s = withRetries(box({ baseUrl: own.url }));
      await s.put('renew-a.txt', piecewise(Buffer.from('a')));
      expect(own.tokensIssued).toBe(1);
      for (const k of own.tokens.keys()) own.tokens.set(k, Date.now() - 1);
      expect((await readAll(await s.get('renew-a.txt'))).toString()).toBe('a');
      await s.put('renew-b.txt', piecewise(Buffer.from('b')));
      expect(own.expiredRejected).toBe(1);
      expect(own.tokensIssued).toBe(2);
      expect(await s.stat('renew-b.txt')).toMatchObject({ size: 1 });
    } finally {
      await own.close();
    }
  });

  it('a run that ultimately fails leaves nothing under the final name and keeps the old backup', async () => {
    const s = box();
    const old = Buffer.from('yesterday');
    await s.put('keepme.sql', piecewise(old));
    await expect(s.put('keepme.sql', failingAfter(CHUNK * 3))).rejects.toThrow(/the dump failed/);
    const named = server.filesUnder('/backups/keepme.sql');
    expect(named.map((f) => f.pathDisplay)).toEqual(['/backups/keepme.sql']);
    expect(named[0]!.data.equals(old)).toBe(true);
  });

  it('a server that keeps dropping the connection fails after the retry policy, leaving nothing', async () => {
    const s = box({ retry: { attempts: 3, initialMs: 10, maxMs: 20 } });
    for (let i = 0; i < 10; i++) server.cutAppend(CHUNK + 100, 'mid-body');
    try {
      await expect(s.put('never.bin', piecewise(randomBytes(CHUNK * 4)))).rejects.toThrow(
        /^Dropbox: uploading dropbox:\/\/\/backups\/never\.bin failed after retries: .*check the network/,
      );
    } finally {
      server.clearCuts();
    }
    expect(server.filesUnder('/backups/never.bin')).toEqual([]);
  });

  it('bad credentials fail at once with a sentence naming the backend, destination and fix, and no secret', async () => {
    for (const bad of [{ refreshToken: 'revoked-token-xyz' }, { clientSecret: 'wrong-secret-xyz' }]) {
      const s = box({ ...bad, retry: { attempts: 8, initialMs: 2000, maxMs: 8000 } });
      const t0 = Date.now();
      const err = (await s.put('creds.bin', piecewise(Buffer.from('x'))).catch((e: unknown) => e)) as Error;
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(err).toBeInstanceOf(PermanentError);
      expect(err.message).toMatch(
        /^Dropbox: the (refresh token|app key or secret \(clientid, clientsecret\)) was refused \((invalid_grant|invalid_client)\) while starting an upload to dropbox:\/\/\/backups\/creds\.bin; check clientid and clientsecret, and create a new refresh token/,
      );
      for (const secret of [...Object.values(bad), APP.clientSecret, APP.refreshToken]) expect(err.message).not.toContain(secret);
    }
    expect(server.filesUnder('/backups/creds.bin')).toEqual([]);
  });

  it('never shows the refresh token or app secret the SDK puts in the token URL', async () => {
    const url = `https://api.dropboxapi.com/oauth2/token?grant_type=refresh_token&refresh_token=${APP.refreshToken}&client_id=${APP.clientId}&client_secret=${APP.clientSecret}`;
    const shown = redactText(`request to ${url} failed`);
    expect(shown).not.toContain(APP.refreshToken);
    expect(shown).not.toContain(APP.clientSecret);
    // A token endpoint that is down: the error names the backend and destination, and carries no secret.
    const s = box({ baseUrl: 'http://127.0.0.1:9/', retry: { attempts: 1 } });
    const err = await s.stat('x.sql').catch((e: unknown) => e);
    const msg = errorMessage(err);
    expect(msg).toMatch(/^Dropbox: looking up dropbox:\/\/\/backups\/x\.sql failed: /);
    for (const secret of [APP.refreshToken, APP.clientSecret]) expect(msg).not.toContain(secret);
  });

  it("builds from config (the Go tool's keys) and from a dropbox:/// URL with credentials from the environment", async () => {
    const log = { warn() {}, info() {} } as never;
    const t = dropboxBackend.fromConfig(
      { path: '/backups/app.sql', refreshtoken: APP.refreshToken, clientid: APP.clientId, clientsecret: APP.clientSecret },
      { log },
    );
    expect(t.key).toBe('app.sql');
    expect(t.storage.describe(t.key)).toBe('dropbox:///backups/app.sql');
    const saved = { ...process.env };
    process.env.DROPBOX_REFRESH_TOKEN = APP.refreshToken;
    process.env.DROPBOX_CLIENT_ID = APP.clientId;
    process.env.DROPBOX_CLIENT_SECRET = APP.clientSecret;
    process.env.ONEDUMP_DROPBOX_BASE_URL = server.url;
    try {
      const u = dropboxBackend.fromUrl(new URL('dropbox:///backups/url/from-url.sql'), { log });
      expect(u.key).toBe('from-url.sql');
      await u.storage.put(u.key, piecewise(Buffer.from('via url')));
      expect((await readAll(await box().get('url/from-url.sql'))).toString()).toBe('via url');
      delete process.env.DROPBOX_CLIENT_SECRET;
      expect(() => dropboxBackend.fromUrl(new URL('dropbox:///x.sql'), { log })).toThrow(/set DROPBOX_CLIENT_SECRET/);
      expect(() => dropboxBackend.fromUrl(new URL('dropbox://host/x.sql'), { log })).toThrow(/three slashes/);
    } finally {
      for (const k of ['DROPBOX_REFRESH_TOKEN', 'DROPBOX_CLIENT_ID', 'DROPBOX_CLIENT_SECRET', 'ONEDUMP_DROPBOX_BASE_URL']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
