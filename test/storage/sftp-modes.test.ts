import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Readable } from 'node:stream';
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SftpStorage, sftpBackend, type SftpStorageConfig } from '../../src/storage/sftp.js';
import { storageFromUrl } from '../../src/storage/registry.js';
import { sshTarget } from '../../src/ssh/client.js';
import { folderModeFor } from '../../src/storage/mode.js';
import { silentLogger } from '../../src/util/logger.js';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { modeOf, octal } from '../../testutils/umask-cli.js';

/** Two servers: sshd (and the sftp-server it starts) inherit the umask they were started with. */
const UMASKS = [0o027, 0o077];
const servers = new Map<number, SshdInstance>();

beforeAll(async () => {
  for (const u of UMASKS) {
    const old = process.umask(u);
    try {
      servers.set(u, await startSshd());
    } finally {
      process.umask(old);
    }
  }
}, 60_000);
afterAll(async () => {
  await Promise.allSettled([...servers.values()].map((s) => s.stop()));
});

let seq = 0;
function storage(sshd: SshdInstance, over: Partial<SftpStorageConfig> = {}): { st: SftpStorage; root: string } {
  const root = join(sshd.dir, `m${++seq}`);
  const st = new SftpStorage({
    target: sshTarget({ sshhost: `127.0.0.1:${sshd.port}`, sshuser: sshd.user, sshkey: sshd.keyPath, sshhostkey: sshd.hostKeyFingerprint }, 'test'),
    root,
    retryPolicy: { initialMs: 50, maxMs: 500, attempts: 4 },
    ...over,
  });
  return { st, root };
}

const MODES = [0o600, 0o640, 0o644, 0o660, 0o664, 0o700, 0o606, 0o751];
const body = (n: number) => randomBytes(1 + ((n * 7919) % 70_000));

describe('sftp storage file modes', () => {
  it('the server\'s umask does not decide: backups 0600 in 0700 folders, mode: exactly with matching folders', async () => {
    for (const [u, sshd] of servers) {
      const { st, root } = storage(sshd);
      try {
        await st.put('a/b/app.sql', Readable.from([body(1)]));
        expect(octal(modeOf(join(root, 'a/b/app.sql'))), `server umask ${octal(u)}`).toBe('0600');
        for (const dir of [root, join(root, 'a'), join(root, 'a/b')]) expect(octal(modeOf(dir)), dir).toBe('0700');
      } finally {
        await st.close();
      }
      for (const m of MODES) {
        const { st: ms, root: mroot } = storage(sshd, { mode: m });
        try {
          await ms.put('x/y.sql', Readable.from([body(m)]));
          expect(octal(modeOf(join(mroot, 'x/y.sql'))), `mode ${octal(m)}, server umask ${octal(u)}`).toBe(octal(m));
          expect(octal(modeOf(join(mroot, 'x'))), `folder for ${octal(m)}`).toBe(octal(folderModeFor(m)));
          // A copy (sync) into a storage with its own mode keeps that mode; a put's own mode wins.
          await ms.put('x/copy.bin', Readable.from([body(m + 1)]), { mode: 'umask' });
          expect(octal(modeOf(join(mroot, 'x/copy.bin')))).toBe(octal(m));
          await ms.put('x/put.bin', Readable.from([body(m + 2)]), { mode: 0o604 });
          expect(octal(modeOf(join(mroot, 'x/put.bin')))).toBe('0604');
        } finally {
          await ms.close();
        }
      }
    }
  });

  it('\'umask\' leaves the mode to the server, as the Go tool\'s client did: files 0666 and folders 0777 less its umask', async () => {
    for (const [u, sshd] of servers) {
      const { st, root } = storage(sshd);
      try {
        for (let i = 0; i < 4; i++) await st.put(`d${i}/e/f${i}.bin`, Readable.from([body(i)]), { mode: 'umask' });
        for (let i = 0; i < 4; i++) {
          expect(octal(modeOf(join(root, `d${i}/e/f${i}.bin`))), `server umask ${octal(u)}`).toBe(octal(0o666 & ~u));
          expect(octal(modeOf(join(root, `d${i}/e`)))).toBe(octal(0o777 & ~u));
        }
      } finally {
        await st.close();
      }
    }
  });

  it('a resumed partial file gets the asked mode at the commit, and its bytes are whole', async () => {
    const sshd = servers.get(0o077)!;
    const { st, root } = storage(sshd);
    try {
      const data = randomBytes(300_000);
      mkdirSync(root, { recursive: true });
      // What an interrupted upload left: the first 100 kB, 0600.
      writeFileSync(join(root, 'r.bin.partial'), data.subarray(0, 100_000), { mode: 0o600 });
      await st.put('r.bin', Readable.from([data]), { resume: true, mode: 0o644 });
      expect(st.lastUpload?.resumedAt).toEqual([100_000]);
      expect(octal(modeOf(join(root, 'r.bin')))).toBe('0644');
      expect(createHash('sha256').update(readFileSync(join(root, 'r.bin'))).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
      expect(existsSync(join(root, 'r.bin.partial'))).toBe(false);
    } finally {
      await st.close();
    }
  });

  it('a server that refuses SETSTAT still takes backups without mode: (0600 at the open); with mode: it is one sentence', async () => {
    // OpenSSH's sftp-server can deny requests by name (-P), as some appliances do.
    const strict = await startSshd({ config: ['ForceCommand internal-sftp -P fsetstat,setstat'] });
    try {
      const { st, root } = storage(strict);
      try {
        await st.put('n/app.sql', Readable.from([body(5)]));
        expect(octal(modeOf(join(root, 'n/app.sql')))).toBe('0600');
        await st.put('n/copy.bin', Readable.from([body(6)]), { mode: 'umask' });
        expect(existsSync(join(root, 'n/copy.bin'))).toBe(true);
      } finally {
        await st.close();
      }
      const { st: ms, root: mroot } = storage(strict, { mode: 0o640 });
      mkdirSync(mroot, { recursive: true }); // a folder that exists needs no chmod: the file's fchmod is what fails
      try {
        await expect(ms.put('app.sql', Readable.from([body(7)]))).rejects.toThrow(
          new RegExp(`^sftp storage: the server refused to set mode 0640 on sftp://${strict.user}@127\\.0\\.0\\.1:${strict.port}${mroot}/app\\.sql\\.partial \\(.+\\); remove mode: \\(or --mode\\) for this server\\.$`),
        );
        expect(existsSync(join(mroot, 'app.sql'))).toBe(false);
      } finally {
        await ms.close();
      }
    } finally {
      await strict.stop();
    }
  });

  it('mode: comes from a config entry and from ?mode= in an sftp URL, and is validated there', async () => {
    const sshd = servers.get(0o077)!;
    const remote = join(sshd.dir, 'cfg', 'app.sql');
    const opts = sftpBackend.options.parse({ path: remote, sshhost: `127.0.0.1:${sshd.port}`, sshuser: sshd.user, sshkey: sshd.keyPath, sshhostkey: sshd.hostKeyFingerprint, mode: '0640' });
    const t = sftpBackend.fromConfig(opts, { log: silentLogger });
    try {
      await t.storage.put(t.key, Readable.from([Buffer.from('from config')]));
    } finally {
      await t.storage.close?.();
    }
    expect(octal(modeOf(remote))).toBe('0640');
    expect(octal(modeOf(join(sshd.dir, 'cfg')))).toBe('0750');

    const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.dir}/url/?sshkey=${encodeURIComponent(sshd.keyPath)}&sshhostkey=${encodeURIComponent(sshd.hostKeyFingerprint)}`;
    const u = storageFromUrl(`${url}&mode=0660`, { log: silentLogger });
    try {
      await u.storage.put('f.bin', Readable.from([Buffer.from('from url')]));
    } finally {
      await u.storage.close?.();
    }
    expect(octal(modeOf(join(sshd.dir, 'url', 'f.bin')))).toBe('0660');
    expect(() => storageFromUrl(`${url}&mode=0460`, { log: silentLogger })).toThrow(/mode: must let the owner read and write/);
    expect(() => storageFromUrl(`${url}&mode=rw`, { log: silentLogger })).toThrow(/mode: must be an octal mode of three digits/);
  });
});
