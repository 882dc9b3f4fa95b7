import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { startS3, type S3Server } from '../../testutils/s3.js';
import { startCutProxy } from '../../testutils/proxy.js';
import { runCli } from '../../testutils/cli.js';
import { makeTree, treeHashes, stateLines } from '../../testutils/tree.js';

const MiB = 1024 * 1024;
let sshd: SshdInstance;
let s3: S3Server;
let work: string;
let src: string;

beforeAll(async () => {
  [sshd, s3] = await Promise.all([startSshd(), startS3(['faults'])]);
  work = mkdtempSync(join(tmpdir(), 'onedump-sync-faults-'));
  src = join(work, 'src');
  makeTree(src, 40); // ~70 MB: one 50 MB file, four of 4 MB, small ones
}, 120_000);
afterAll(async () => {
  await Promise.allSettled([sshd?.stop(), s3?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

const isState = (rel: string) => rel === 'checksum.onedump';

describe('sync through a connection-cutting proxy', () => {
  it('to SFTP: connections cut three times mid-transfer, the tree arrives byte-identical and fully recorded', async () => {
    const proxy = await startCutProxy({ host: '127.0.0.1', port: sshd.port }, { cutAfter: [8 * MiB, 30 * MiB, 55 * MiB] });
    try {
      const dest = join(sshd.dir, 'cut');
      const url = `sftp://${sshd.user}@127.0.0.1:${proxy.port}${dest}/?sshhostkey=${encodeURIComponent(sshd.hostKeyFingerprint)}`;
      const r = await runCli(['sync', src, url, '-r', '--checksum', '--append', '--ssh-key', sshd.keyPath, '--json'], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(proxy.cuts).toEqual([8 * MiB, 30 * MiB, 55 * MiB]);
      const want = treeHashes(src, isState);
      expect(treeHashes(dest, (rel) => rel.endsWith('.partial'))).toEqual(want);
      expect(new Set(stateLines(join(src, 'checksum.onedump')))).toEqual(new Set(want.values()));
    } finally {
      await proxy.close();
    }
  }, 180_000);

  it('to S3: connections cut mid-transfer, every object arrives intact', async () => {
    const proxy = await startCutProxy({ host: '127.0.0.1', port: s3.port }, { cutAfter: [5 * MiB, 40 * MiB] });
    try {
      const q = `endpoint=${encodeURIComponent(`http://127.0.0.1:${proxy.port}`)}&forcepathstyle=true&checksums=when_required&region=us-east-1`;
      const env = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
      const r = await runCli(['sync', src, `s3://faults/cut/?${q}`, '-r', '--checksum', '--checksum-file', join(work, 's3.state'), '--json'], { env, timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(proxy.cuts.length).toBe(2);
      const dl = join(work, 'dl');
      const d = await runCli(['download', `s3://faults/cut/?${q.replace(String(proxy.port), String(s3.port))}`, dl], { env });
      expect(d.code, d.stderr).toBe(0);
      expect(treeHashes(dl)).toEqual(treeHashes(src, isState));
    } finally {
      await proxy.close();
    }
  }, 180_000);
});
