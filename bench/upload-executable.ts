/**
 * The single executable (dist/onedump, `npm run build:binary`) uploading 1 GiB with `onedump sync FILE sftp://…` to a
 * local sshd, next to OpenSSH `sftp -b` (with `put -f`, the fsync onedump does, and without) and `scp`, interleaved,
 * with `sync` between runs so every tool starts with clean page-cache writeback. onedump's time includes its start-up.
 * Usage: npx tsx bench/upload-executable.ts [RUNS=3]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, writeSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd } from '../testutils/sshd.js';

if (!existsSync('dist/onedump')) throw new Error('build the executable first: npm run build:binary');
const bytes = 1024 * 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'binup-'));
const file = join(work, 'up.bin');
const fd = openSync(file, 'w');
const block = randomBytes(16 << 20);
for (let o = 0; o < bytes; o += block.length) {
  block.writeDoubleLE(o, 0);
  writeSync(fd, block);
}
closeSync(fd);
const sshd = await startSshd();
const remote = join(sshd.dir, 'r');
execFileSync('mkdir', ['-p', remote]);
const sshOpts = ['-i', sshd.keyPath, '-o', `UserKnownHostsFile=${sshd.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes'];
const batch = join(work, 'b');
writeFileSync(batch, `put -f ${file} ${remote}/sftp.bin\n`);
const batch2 = join(work, 'b2');
writeFileSync(batch2, `put ${file} ${remote}/sftp2.bin\n`);
const time = (cmd: string, args: string[]) => {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return (Date.now() - t0) / 1000;
};
const runs = Number(process.argv[2] ?? 3);
for (let i = 0; i < runs; i++) {
  rmSync(join(remote, 'up.bin'), { force: true });
  execFileSync('sync');
  const od = time('dist/onedump', ['sync', file, `sftp://${sshd.user}@127.0.0.1:${sshd.port}${remote}/?sshknownhosts=${encodeURIComponent(sshd.knownHostsPath)}`, '--ssh-key', sshd.keyPath, '--json']);
  execFileSync('sync');
  const sf = time('sftp', [...sshOpts, '-P', String(sshd.port), '-b', batch, `${sshd.user}@127.0.0.1`]);
  execFileSync('sync');
  const sp = time('sftp', [...sshOpts, '-P', String(sshd.port), '-b', batch2, `${sshd.user}@127.0.0.1`]);
  execFileSync('sync');
  const sc = time('scp', [...sshOpts, '-P', String(sshd.port), file, `${sshd.user}@127.0.0.1:${remote}/scp.bin`]);
  const mbs = (t: number) => (bytes / 1e6 / t).toFixed(1);
  console.log(`run ${i + 1}: onedump executable ${mbs(od)} MB/s (start-up included) | sftp -b put -f ${mbs(sf)} (${(sf / od).toFixed(2)}x) | sftp -b ${mbs(sp)} (${(sp / od).toFixed(2)}x) | scp ${mbs(sc)} (${(sc / od).toFixed(2)}x)`);
}
await sshd.stop();
rmSync(work, { recursive: true, force: true });
