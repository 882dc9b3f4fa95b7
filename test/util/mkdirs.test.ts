import { describe, it, expect } from 'vitest';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { mkdirs, mkdirsSync } from '../../src/util/mkdirs.js';
import { LocalStorage } from '../../src/storage/local.js';
import { runCli } from '../../testutils/cli.js';

describe('mkdirs', () => {
  it('creates missing levels with the mode, accepts existing folders, and refuses a file in the way', async () => {
    const root = mkdtempSync(join(tmpdir(), 'onedump-mkdirs-'));
    try {
      await mkdirs(join(root, 'a', 'b', 'c'), 0o700);
      expect(statSync(join(root, 'a', 'b', 'c')).isDirectory()).toBe(true);
      expect(statSync(join(root, 'a')).mode & 0o777).toBe(0o700);
      await mkdirs(join(root, 'a', 'b'));
      mkdirsSync(join(root, 's', 't'), 0o700);
      expect(statSync(join(root, 's', 't')).isDirectory()).toBe(true);
      writeFileSync(join(root, 'file'), 'x');
      await expect(mkdirs(join(root, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
      expect(() => mkdirsSync(join(root, 'file'))).toThrow(/EEXIST/);
      // Many callers at once on the same new path all succeed.
      await Promise.all(Array.from({ length: 8 }, () => mkdirs(join(root, 'p', 'q', 'r'))));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('fails at once where Node\'s recursive mkdir spins forever (under /proc)', async () => {
    const t0 = Date.now();
    await expect(mkdirs('/proc/onedump-no-such-dir/x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => mkdirsSync('/proc/onedump-no-such-dir/x')).toThrow(/ENOENT/);
    const st = new LocalStorage('/proc/onedump-no-such-dir');
    await expect(st.put('app.sql', Readable.from([Buffer.from('x')]))).rejects.toThrow(/local storage: cannot create folder \/proc\/onedump-no-such-dir/);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('a sync to a local folder under /proc fails with one sentence (exit 1) instead of hanging', async () => {
    const src = mkdtempSync(join(tmpdir(), 'onedump-mkdirs-src-'));
    try {
      writeFileSync(join(src, 'a.txt'), 'hello');
      const r = await runCli(['sync', join(src, 'a.txt'), '/proc/onedump-no-such-dir/'], { timeoutMs: 60_000 });
      expect(r.signal).toBeNull();
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot create folder \/proc\/onedump-no-such-dir/);
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  });
});
