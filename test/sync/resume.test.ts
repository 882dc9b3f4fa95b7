import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { storageFromUrl } from '../../src/storage/registry.js';
import type { SftpStorage } from '../../src/storage/sftp.js';
import { silentLogger } from '../../src/util/logger.js';
import { runSync } from '../../src/sync/engine.js';
import { listSource } from '../../src/sync/source.js';
import { sha256, stateLines } from '../../testutils/tree.js';

let sshd: SshdInstance;
let work: string;
beforeAll(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'onedump-sync-resume-'));
}, 60_000);
afterAll(async () => {
  await sshd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('--append (resume)', () => {
  it('continues an SFTP upload from the partial file an interrupted run left, and the result is byte-identical', async () => {
    const src = join(work, 'src');
    mkdirSync(src);
    const data = randomBytes(6 * 1024 * 1024);
    writeFileSync(join(src, 'big.bin'), data);
    const remote = join(sshd.dir, 'resume');
    mkdirSync(remote);
    // What a killed run leaves behind: the first 2.5 MiB under name.partial.
    const half = 2.5 * 1024 * 1024;
    writeFileSync(join(remote, 'big.bin.partial'), data.subarray(0, half));
    const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}/?sshknownhosts=${encodeURIComponent(sshd.knownHostsPath)}`;
    const t = storageFromUrl(url, { log: silentLogger }, { sshkey: sshd.keyPath });
    try {
      const files = (await listSource({ source: src })).files.map((f) => ({ ...f, key: f.rel }));
      const r = await runSync({ storage: t.storage, files, checksum: true, stateFile: join(src, 'checksum.onedump'), resume: true });
      expect(r.failed).toEqual([]);
      expect(r.sent.map((x) => x.key)).toEqual(['big.bin']);
      // The registry wraps backends in the retrying storage; the SFTP storage inside reports where it resumed.
      const sftp = ((t.storage as { inner?: SftpStorage }).inner ?? t.storage) as SftpStorage;
      expect(sftp.lastUpload?.resumedAt).toEqual([half]);
      expect(sftp.lastUpload?.bytesSent).toBe(data.length - half);
      expect(readFileSync(join(remote, 'big.bin')).equals(data)).toBe(true);
      expect(existsSync(join(remote, 'big.bin.partial'))).toBe(false);
      expect(stateLines(join(src, 'checksum.onedump'))).toEqual([sha256(data)]);
    } finally {
      await t.storage.close?.();
    }
  });
});
