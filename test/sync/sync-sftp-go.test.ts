import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { runCli } from '../../testutils/cli.js';
import { stateLines, sha256 } from '../../testutils/tree.js';

let sshd: SshdInstance;
let work: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  sshd = await startSshd();
  work = mkdtempSync(join(tmpdir(), 'onedump-sync-sftp-'));
  // First use of the server's host key is recorded in onedump's own known_hosts under this (throwaway) config home.
  env = { XDG_CONFIG_HOME: join(work, 'config') };
}, 120_000);
afterAll(async () => {
  await sshd?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const go = (args: string[]) =>
  runCli(['sync', 'sftp', `--ssh-host=127.0.0.1:${sshd.port}`, `--ssh-user=${sshd.user}`, `--ssh-key=${sshd.keyPath}`, ...args], { env });

describe('onedump sync sftp (the Go tool\'s form)', () => {
  it('sends a single file into an existing remote folder (the docs\' first example)', async () => {
    const file = join(work, 'file.txt');
    writeFileSync(file, 'single file');
    const remote = join(sshd.dir, 'mysql');
    mkdirSync(remote); // empty: only a folder check on the server can tell it from a missing file
    const r = await go([`--source=${file}`, `--destination=${remote}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(remote, 'file.txt'), 'utf8')).toBe('single file');
    expect(existsSync(join(work, 'config', 'onedump', 'known_hosts'))).toBe(true);
  });

  it('sends the files directly in a folder (not nested ones), skips them with --checksum=true, and keeps state in the folder', async () => {
    const src = join(work, 'folder');
    mkdirSync(join(src, 'nested'), { recursive: true });
    writeFileSync(join(src, 'binlog.000001'), 'one');
    writeFileSync(join(src, 'binlog.000002'), 'two');
    writeFileSync(join(src, 'other.txt'), 'other');
    writeFileSync(join(src, 'nested', 'binlog.000003'), 'nested');
    const dest = join(sshd.dir, 'folder-dest');
    const r = await go(['-s', src + '/', '-d', dest + '/', '--checksum=true', '-p', 'binlog.*', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { sent: number }).sent).toBe(2);
    expect(readdirSync(dest).sort()).toEqual(['binlog.000001', 'binlog.000002']);
    expect(stateLines(join(src, 'checksum.onedump')).sort()).toEqual([sha256('one'), sha256('two')].sort());
    const again = await go(['-s', src, '-d', dest, '--checksum', '-p', 'binlog.*', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { sent: number; skipped: number }).skipped).toBe(2);
    // Without --checksum everything is sent and the state file is removed, as in the Go tool.
    const plain = await go(['-s', src, '-d', dest, '-p', 'binlog.*', '--append', '--max-attempts', '3', '--json']);
    expect((JSON.parse(plain.stdout) as { sent: number }).sent).toBe(2);
    expect(existsSync(join(src, 'checksum.onedump'))).toBe(false);
  });

  it('a folder source with a file destination is a clear error (exit 2)', async () => {
    const src = join(work, 'folder2');
    mkdirSync(src);
    writeFileSync(join(src, 'a'), 'a');
    writeFileSync(join(sshd.dir, 'a-file'), 'I am a file');
    const r = await go(['-s', src, '-d', join(sshd.dir, 'a-file')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/destination .*a-file is a file, but the source .*folder2 is a folder/);
  });

  it('takes the key as base64 and reports a missing required flag as usage', async () => {
    const file = join(work, 'b64.txt');
    writeFileSync(file, 'via base64 key');
    const b64 = Buffer.from(sshd.keyText).toString('base64');
    const r = await runCli(
      ['sync', 'sftp', '-s', file, '-d', join(sshd.dir, 'b64.txt'), `--ssh-host=127.0.0.1:${sshd.port}`, `--ssh-user=${sshd.user}`, `--ssh-key=${b64}`],
      { env },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(sshd.dir, 'b64.txt'), 'utf8')).toBe('via base64 key');
    const missing = await runCli(['sync', 'sftp', '-s', file, '-d', '/tmp/x'], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/required option '--ssh-host/);
  });
});
