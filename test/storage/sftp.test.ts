import { DEFAULT_RETRY } from '../../src/util/retry.js';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Readable, type Writable } from 'node:stream';
import { once } from 'node:events';
import { createReadStream, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { SftpStorage, sftpBackend, sftpCall, type SftpConn, type SftpStorageConfig } from '../../src/storage/sftp.js';
import { withRetries } from '../../src/storage/retrying.js';
import { storageFromUrl } from '../../src/storage/registry.js';
import { sshTarget } from '../../src/ssh/client.js';
import { runPipeline } from '../../src/jobs/pipeline.js';
import { silentLogger } from '../../src/util/logger.js';
import { PermanentError } from '../../src/util/errors.js';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { startCutProxy } from '../../testutils/proxy.js';
import { randomStream, unendingStream, sha256Of, pacedRandomStream } from '../../testutils/streams.js';
import { storageConformance } from './conformance.js';
import { runRetentionScenario } from './retention-scenario.js';

/** Backup names followed by their manifests' names. */
const withManifests = (names: string[]) => names.flatMap((n) => [n, `${n}.manifest.json`]);

const MiB = 1024 * 1024;
let sshd: SshdInstance;

beforeAll(async () => {
  sshd = await startSshd();
}, 60_000);
afterAll(async () => {
  await sshd?.stop();
});

let seq = 0;
function storage(over: Partial<SftpStorageConfig> = {}, port = sshd.port): SftpStorage {
  return new SftpStorage({
    // Pinned host key: the same key answers on the proxy's port too.
    target: sshTarget({ sshhost: `127.0.0.1:${port}`, sshuser: sshd.user, sshkey: sshd.keyPath, sshhostkey: sshd.hostKeyFingerprint }, 'test'),
    root: join(sshd.dir, `t${++seq}`),
    retryPolicy: { initialMs: 50, maxMs: 500, attempts: 8 },
    ...over,
  });
}

const fileSha = (p: string) => sha256Of(createReadStream(p));

storageConformance('sftp', {
  async make() {
    return withRetries(storage());
  },
});

describe('sftp storage', () => {
  it('is built from a config entry with the Go tool\'s keys, creates missing folders and writes files 0600', async () => {
    const remote = join(sshd.dir, 'cfg', 'deep', 'er', 'app.sql');
    const opts = sftpBackend.options.parse({ path: remote, sshhost: `127.0.0.1:${sshd.port}`, sshuser: sshd.user, sshkey: sshd.keyPath, sshknownhosts: sshd.knownHostsPath, sha256sum: true });
    const { storage: st, key } = sftpBackend.fromConfig(opts, { log: silentLogger });
    expect(key).toBe('app.sql');
    expect(st.describe(key)).toBe(`sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}`);
    const stored = await st.put(key, Readable.from([Buffer.from('config form')]));
    expect(stored.hash?.algorithm).toBe('sha256');
    expect(readFileSync(remote, 'utf8')).toBe('config form');
    expect(statSync(remote).mode & 0o777).toBe(0o600);
    expect(existsSync(remote + '.partial')).toBe(false);
    await st.close?.();
    // maxattempts bounds the retries of the registry's wrapper and of the resume; 0 is unlimited, as in Go; unset is
    // the default policy, so an unreachable host cannot hang a job forever.
    expect(storageFromUrl(`sftp://u@127.0.0.1:${sshd.port}/x/y.sql?sshkey=${encodeURIComponent(sshd.keyPath)}&maxattempts=3`, { log: silentLogger }).storage.retryPolicy?.attempts).toBe(3);
    expect((sftpBackend.fromConfig({ ...opts, maxattempts: 0 }, { log: silentLogger }).storage as SftpStorage).retryPolicy.attempts).toBe(Infinity);
    expect((sftpBackend.fromConfig({ ...opts, maxattempts: 5 }, { log: silentLogger }).storage as SftpStorage).retryPolicy.attempts).toBe(5);
    expect((sftpBackend.fromConfig({ ...opts, maxattempts: undefined }, { log: silentLogger }).storage as SftpStorage).retryPolicy.attempts).toBe(DEFAULT_RETRY.attempts);
    // sshport wins over a port in sshhost; the Go form host without port means 22.
    expect(sftpBackend.describe({ ...opts, sshhost: 'db.example.com', sshport: undefined })).toBe(`sftp://${sshd.user}@db.example.com${remote}`);
    expect(sftpBackend.describe({ ...opts, sshhost: 'db.example.com:2222', sshport: 2200 })).toBe(`sftp://${sshd.user}@db.example.com:2200${remote}`);
  });

  it('is built from an sftp:// URL with the key from a parameter', async () => {
    const dir = join(sshd.dir, 'url');
    const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${dir}/app.sql?sshkey=${encodeURIComponent(sshd.keyPath)}&sshknownhosts=${encodeURIComponent(sshd.knownHostsPath)}`;
    const { storage: st, key } = storageFromUrl(url, { log: silentLogger });
    expect(key).toBe('app.sql');
    await st.put(key, Readable.from([Buffer.from('url form')]));
    expect(readFileSync(join(dir, 'app.sql'), 'utf8')).toBe('url form');
    await st.close?.();
    expect(() => storageFromUrl(`sftp://u@h/x?nope=1`, { log: silentLogger })).toThrow(/unknown parameter "nope"/);
  });

  it('replaces an existing file atomically (posix-rename) and keeps nothing else around', async () => {
    const st = storage();
    await st.put('r/app.sql', Readable.from([Buffer.from('first')]));
    const p = st.pathOf('r/app.sql');
    const inode = statSync(p).ino;
    await st.put('r/app.sql', Readable.from([Buffer.from('second')]));
    expect(readFileSync(p, 'utf8')).toBe('second');
    expect(statSync(p).ino).not.toBe(inode);
    expect(readdirSync(join(p, '..'))).toEqual(['app.sql']);
    await st.close();
  });

  it('fails at once with a sentence on a refused key and on a wrong host key', async () => {
    const bad = withRetries(storage({ target: sshTarget({ sshhost: `127.0.0.1:${sshd.port}`, sshuser: sshd.user, sshkey: sshd.otherKeyPath, sshhostkey: sshd.hostKeyFingerprint }, 'test') }));
    const t0 = Date.now();
    const err = await bad.put('x.sql', Readable.from([Buffer.from('x')])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/refused the key .*check sshuser and sshkey/);
    const spoof = withRetries(storage({ target: sshTarget({ sshhost: `127.0.0.1:${sshd.port}`, sshuser: sshd.user, sshkey: sshd.keyPath, sshhostkey: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, 'test') }));
    await expect(spoof.stat('x.sql')).rejects.toBeInstanceOf(PermanentError);
    expect(Date.now() - t0).toBeLessThan(5000);
    await bad.close?.();
    await spoof.close?.();
  });

  it('fails at once when the remote folder cannot be created', async () => {
    writeFileSync(join(sshd.dir, 'plainfile'), 'x');
    const st = withRetries(storage({ root: join(sshd.dir, 'plainfile') }));
    await expect(st.put('a/b.sql', Readable.from([Buffer.from('x')]))).rejects.toThrow(/^sftp storage: sftp:\/\/.*plainfile exists and is not a folder\.$/);
    await st.close?.();
  });

  it('uploads 200 MB through a connection cut twice byte-identical, resuming at the acknowledged offset', { timeout: 300_000 }, async () => {
    const size = 200 * MiB;
    const proxy = await startCutProxy({ host: '127.0.0.1', port: sshd.port }, { cutAfter: [70 * MiB, 140 * MiB] });
    try {
      // Flush-behind every 16 MiB (how many happen depends on timing: opening its channel takes ~0.6 s on this sshd).
      const inner = storage({ sha256sum: true, flushEvery: 16 * MiB }, proxy.port);
      const st = withRetries(inner);
      const src = randomStream(size);
      const stored = await st.put('big/200mb.bin', src.stream);
      const want = await src.sha256;
      expect(stored.size).toBe(size);
      expect(stored.hash?.value).toBe(want);
      expect(proxy.cuts).toEqual([70 * MiB, 140 * MiB]);
      const stats = inner.lastUpload!;
      expect(stats.reconnects).toBe(2);
      expect(stats.resumedAt.length).toBe(2);
      expect(stats.resumedAt[0]).toBeGreaterThan(60 * MiB);
      expect(stats.resumedAt[1]).toBeGreaterThan(stats.resumedAt[0]!);
      // Only the unacknowledged window (≤ 4 MiB) is sent again at each cut, not the file.
      expect(stats.bytesSent).toBeLessThanOrEqual(size + 2 * 4 * MiB);
      expect(proxy.bytesUp).toBeLessThan(size * 1.05 + 2 * 8 * MiB);
      // Server side: the file on disk.
      expect(await fileSha(inner.pathOf('big/200mb.bin'))).toEqual({ sha256: want, size });
      await st.close?.();
    } finally {
      await proxy.close();
    }
  });

  it('a live dump streamed through a cut connection is produced once and arrives whole', { timeout: 300_000 }, async () => {
    const size = 200 * MiB;
    const proxy = await startCutProxy({ host: '127.0.0.1', port: sshd.port }, { cutAfter: [50 * MiB, 120 * MiB] });
    try {
      const inner = storage({}, proxy.port);
      let runs = 0;
      const produce = async (out: Writable) => {
        runs++;
        for await (const chunk of randomStream(size).stream) {
          if (!out.write(chunk)) await once(out, 'drain');
        }
        return { bytes: size } as never;
      };
      const result = await runPipeline(produce, [{ name: 'sftp[0]', storage: withRetries(inner), key: 'dump/app.sql' }], { gzip: false, signal: new AbortController().signal });
      expect(result.error).toBeUndefined();
      expect(runs).toBe(1);
      expect(result.outcomes[0]?.ok).toBe(true);
      expect(inner.lastUpload!.reconnects).toBe(2);
      expect(await fileSha(inner.pathOf('dump/app.sql'))).toEqual({ sha256: result.sha256, size });
      await inner.close();
    } finally {
      await proxy.close();
    }
  });

  it('a run that ultimately fails leaves nothing under the final name and keeps the earlier backup', { timeout: 120_000 }, async () => {
    const proxy = await startCutProxy({ host: '127.0.0.1', port: sshd.port });
    try {
      const inner = storage({ retryPolicy: { attempts: 2, initialMs: 20, maxMs: 50 } }, proxy.port);
      const st = withRetries(inner);
      await st.put('fails/app.sql', Readable.from([Buffer.from('the good backup')]));
      const base = proxy.bytesUp;
      // From 5 MiB on, the connection is cut every 200 KiB: more faults in a row than maxattempts allows.
      proxy.cutAt(...Array.from({ length: 300 }, (_, i) => base + 5 * MiB + i * 200 * 1024));
      await expect(st.put('fails/app.sql', randomStream(60 * MiB).stream)).rejects.toThrow(/sftp storage: .*fails\/app.sql/);
      const p = inner.pathOf('fails/app.sql');
      expect(readFileSync(p, 'utf8')).toBe('the good backup');
      await expect(st.put('fails/new.sql', randomStream(60 * MiB).stream)).rejects.toThrow();
      expect(existsSync(inner.pathOf('fails/new.sql'))).toBe(false);
      await st.close?.();
    } finally {
      await proxy.close();
    }
  });

  it('resumes an interrupted upload from the remote partial file when asked (sync --append)', async () => {
    const st = storage();
    const data = Buffer.alloc(3 * MiB + 17);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const p = st.pathOf('resume/file.bin');
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p + '.partial', data.subarray(0, 2 * MiB));
    await st.put('resume/file.bin', Readable.from([data]), { resume: true });
    expect(readFileSync(p).equals(data)).toBe(true);
    expect(st.lastUpload!.resumedAt).toEqual([2 * MiB]);
    expect(st.lastUpload!.bytesSent).toBe(data.length - 2 * MiB);
    await st.close();
  });

  it('keep: 3 over five runs of a dump job leaves the newest three and touches nothing else', { timeout: 180_000 }, async () => {
    const dir = join(sshd.dir, 'keep');
    mkdirSync(dir);
    writeFileSync(join(dir, 'other-app.sql'), 'not ours');
    writeFileSync(join(dir, 'app.sql.gz.bak'), 'not ours either');
    const names = await runRetentionScenario(`
      sftp:
        - path: ${dir}/app.sql
          sshhost: 127.0.0.1:${sshd.port}
          sshuser: ${sshd.user}
          sshkey: ${sshd.keyPath}
          sshknownhosts: ${sshd.knownHostsPath}
          keep: 3`);
    // The three kept backups with their manifests; the deleted ones' manifests went with them.
    expect(readdirSync(dir).sort()).toEqual([...withManifests(names.slice(2)), 'app.sql.gz.bak', 'other-app.sql'].sort());
    expect(readFileSync(join(dir, 'other-app.sql'), 'utf8')).toBe('not ours');
  });
});

describe('sftp storage over one connection', () => {
  it('sends many files over one connection without piling up listeners', { timeout: 60_000 }, async () => {
    const st = storage();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 25; i++) await st.put(`many/f${i}.txt`, Readable.from([Buffer.from(`file ${i}`)]));
    } finally {
      process.off('warning', onWarning);
    }
    const keys: string[] = [];
    for await (const o of st.list('many/')) keys.push(o.key);
    expect(keys.length).toBe(25);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
    await st.close();
  });

  it('flushes behind the upload on a second channel, which it closes, and does without one when the server refuses it', { timeout: 120_000 }, async () => {
    /** sftp-server processes of an sshd (children of its session processes). */
    const sftpServers = (instance: SshdInstance): number => {
      const master = Number(readFileSync(join(instance.dir, 'sshd.pid'), 'utf8').trim());
      const parent = new Map<number, number>();
      const names = new Map<number, string>();
      for (const d of readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
          const st = readFileSync(`/proc/${d}/stat`, 'utf8');
          names.set(Number(d), st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')));
          parent.set(Number(d), Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]));
        } catch {
          /* exited meanwhile */
        }
      }
      const under = (pid: number): boolean => {
        for (let p = parent.get(pid); p && p > 1; p = parent.get(p)) if (p === master) return true;
        return false;
      };
      return [...names].filter(([pid, name]) => name === 'sftp-server' && under(pid)).length;
    };
    const settle = async (instance: SshdInstance, want: number) => {
      for (let i = 0; i < 50 && sftpServers(instance) !== want; i++) await new Promise((r) => setTimeout(r, 100));
      return sftpServers(instance);
    };

    // A source that waits (up to 10 s) for a flush after every 8 MiB: flushes happen while the upload goes on.
    const st = storage({ flushEvery: 4 * MiB });
    const size = 48 * MiB;
    const paced = pacedRandomStream(size, 8 * MiB, () => st.lastUpload?.flushes ?? 0);
    const stored = await st.put('flush/48mb.bin', paced.stream);
    expect(stored.size).toBe(size);
    expect(st.lastUpload!.flushes).toBeGreaterThanOrEqual(4);
    expect(await fileSha(st.pathOf('flush/48mb.bin'))).toEqual({ sha256: paced.sha256(), size });
    // The storage's channel and the flush-behind channel, kept for the connection's next uploads.
    expect(await settle(sshd, 2)).toBe(2);
    await st.close();
    expect(await settle(sshd, 0)).toBe(0);
    // A small file never opens the second channel.
    const small = storage({ flushEvery: 4 * MiB });
    await small.put('flush/small.txt', Readable.from([Buffer.from('small')]));
    expect(small.lastUpload!.flushes).toBe(0);
    expect(await settle(sshd, 1)).toBe(1);
    await small.close();

    // One channel per connection (MaxSessions 1): the second is refused, the upload goes on without flushes.
    const strict = await startSshd({ config: ['Match all', 'MaxSessions 1'] });
    try {
      const debug: string[] = [];
      const one = new SftpStorage({
        target: sshTarget({ sshhost: `127.0.0.1:${strict.port}`, sshuser: strict.user, sshkey: strict.keyPath, sshhostkey: strict.hostKeyFingerprint }, 'test'),
        root: join(strict.dir, 'one'),
        flushEvery: 4 * MiB,
        log: { ...silentLogger, debug: (m: string) => debug.push(m) } as unknown as SftpStorageConfig['log'],
      });
      const src2 = randomStream(24 * MiB);
      const stored2 = await one.put('f/24mb.bin', src2.stream);
      expect(stored2.hash).toBeUndefined();
      expect(one.lastUpload!.flushes).toBe(0);
      expect(debug.some((m) => m.includes('flush-behind off for this upload'))).toBe(true);
      expect(await fileSha(one.pathOf('f/24mb.bin'))).toEqual({ sha256: await src2.sha256, size: 24 * MiB });
      await one.close();
    } finally {
      await strict.stop();
    }
  });
});

describe('sftp storage on a stalled connection', () => {
  it('an abort ends an upload that waits for acknowledgements that do not come', { timeout: 60_000 }, async () => {
    const proxy = await startCutProxy({ host: '127.0.0.1', port: sshd.port });
    try {
      const st = storage({}, proxy.port);
      await st.put('stall/first.sql', Readable.from([Buffer.from('good')]));
      const ac = new AbortController();
      const body = unendingStream(12 * MiB);
      const putting = st.put('stall/first.sql', body, { signal: ac.signal });
      await new Promise((r) => setTimeout(r, 300));
      proxy.hold();
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      ac.abort(new Error('the job timed out'));
      await expect(putting).rejects.toThrow('the job timed out');
      expect(Date.now() - t0).toBeLessThan(2000);
      proxy.resume();
      expect(readFileSync(st.pathOf('stall/first.sql'), 'utf8')).toBe('good');
      await st.close();
    } finally {
      await proxy.close();
    }
  });
});

describe('sftp storage on a lost connection', () => {
  it('a request made after the connection closed fails at once (ssh2 itself never answers it)', { timeout: 30_000 }, async () => {
    const st = storage();
    const conn = await (st as unknown as { connection(): Promise<SftpConn> }).connection();
    const closed = once(conn.session.client, 'close');
    conn.session.client.end();
    await closed;
    expect(conn.dead).toBe(true);
    // What hung parallel syncs through cut connections: ssh2 queues the request on the closed channel and never calls back.
    const raw = await Promise.race([
      new Promise<string>((r) => conn.sftp.stat(sshd.dir, () => r('answered'))),
      new Promise<string>((r) => setTimeout(() => r('no answer'), 1500)),
    ]);
    expect(raw).toBe('no answer');
    const t0 = Date.now();
    await expect(sftpCall(conn, (s, cb) => s.stat(sshd.dir, cb))).rejects.toMatchObject({ code: 'ECONNRESET', transient: true });
    expect(Date.now() - t0).toBeLessThan(100);
    // The storage itself reconnects for the next operation.
    const stored = await st.put('after-loss.txt', Readable.from([Buffer.from('after')]));
    expect(stored.size).toBe(5);
    await st.close();
  });

  it('a request in flight when the connection is given up fails instead of waiting', { timeout: 30_000 }, async () => {
    const proxy = await startCutProxy({ host: '127.0.0.1', port: sshd.port });
    try {
      const st = storage({}, proxy.port);
      const conn = await (st as unknown as { connection(): Promise<SftpConn> }).connection();
      proxy.hold(); // the request never reaches the server
      const pending = sftpCall(conn, (s, cb) => s.stat(sshd.dir, cb));
      (st as unknown as { drop(c: SftpConn): void }).drop(conn);
      await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET' });
      proxy.resume();
      await st.close();
    } finally {
      await proxy.close();
    }
  });
});
