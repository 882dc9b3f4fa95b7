import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { startS3, type S3Server } from '../../testutils/s3.js';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { runTieredScenario, TIERED_POLICY, TIERED_RUNS } from '../storage/retention-scenario.js';
import { bruteForce } from './retention-oracle.js';

/** Tiered retention through real job runs on local disk, S3 (s3rver) and SFTP (OpenSSH sshd). */
const BUCKET = 'onedump-tiers';
let s3: S3Server;
let sshd: SshdInstance;
beforeAll(async () => {
  [s3, sshd] = await Promise.all([startS3([BUCKET]), startSshd()]);
}, 90_000);
afterAll(async () => {
  await Promise.allSettled([s3?.stop(), sshd?.stop()]);
});

const keepYaml = `keep: { last: ${TIERED_POLICY.last}, daily: ${TIERED_POLICY.daily}, weekly: ${TIERED_POLICY.weekly} }`;
const oracle = (c: Parameters<typeof bruteForce>[0]) => bruteForce(c, TIERED_POLICY);
/** A folder's backups (marks and manifests left out), and the check that every kept backup kept its manifest. */
function backupsOf(names: string[]): string[] {
  const backups = names.filter((n) => /^\d{14}-app\.sql\.gz$/.test(n)).sort();
  for (const b of backups) expect(names).toContain(`${b}.manifest.json`);
  // No orphaned manifests: the deleted backups' sidecars went with them.
  for (const n of names.filter((x) => x.endsWith('.manifest.json'))) expect(backups).toContain(n.replace(/\.manifest\.json$/, ''));
  return backups;
}

describe('tiered keep: through real job runs', () => {
  it('the model is not trivial: some runs are deleted, and not only the oldest', () => {
    let survivors: Array<{ key: string; name: string; time: Date }> = [];
    for (const t of TIERED_RUNS) {
      const w = { key: t.toISOString(), name: t.toISOString(), time: t };
      const kept = oracle([...survivors, w]);
      survivors = [...survivors, w].filter((s) => kept.has(s.key) || s === w);
    }
    expect(survivors.length).toBeGreaterThan(2);
    expect(survivors.length).toBeLessThan(TIERED_RUNS.length - 2);
  });

  it('local: keeps exactly the tiers\' set, the marked backup, and nothing else of the folder is touched', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-tiers-'));
    writeFileSync(join(dir, 'other-app.sql'), 'not ours');
    writeFileSync(join(dir, '20200101000000-app.sql.gz.bak'), 'not ours either');
    const { names, expected } = await runTieredScenario(
      `
      local:
        - path: ${dir}/app.sql
          ${keepYaml}`,
      async (name) => writeFileSync(join(dir, `${name}.keep`), '{}'),
      oracle,
    );
    const listed = readdirSync(dir);
    expect(backupsOf(listed)).toEqual(expected);
    expect(expected).toContain(names[0]);
    expect(listed).toContain(`${names[0]}.keep`);
    expect(readFileSync(join(dir, 'other-app.sql'), 'utf8')).toBe('not ours');
    expect(listed).toContain('20200101000000-app.sql.gz.bak');
  });

  it('S3: the same set', { timeout: 240_000 }, async () => {
    const prefix = `tiers${process.pid}`;
    const c = s3.client();
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/other-app.sql`, Body: 'not ours' }));
    const { names, expected } = await runTieredScenario(
      `
      s3:
        - bucket: ${BUCKET}
          key: ${prefix}/app.sql
          region: us-east-1
          endpoint: ${s3.endpoint}
          forcepathstyle: true
          checksums: when_required
          access-key-id: S3RVER
          secret-access-key: S3RVER
          ${keepYaml}`,
      async (name) => {
        await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/${name}.keep`, Body: '{}' }));
      },
      oracle,
    );
    const listed = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }));
    c.destroy();
    const keys = (listed.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1));
    expect(backupsOf(keys)).toEqual(expected);
    expect(keys).toContain('other-app.sql');
    expect(keys).toContain(`${names[0]}.keep`);
  });

  it('SFTP: the same set', { timeout: 240_000 }, async () => {
    const dir = join(sshd.dir, 'tiers');
    mkdirSync(dir);
    writeFileSync(join(dir, 'other-app.sql'), 'not ours');
    const { names, expected } = await runTieredScenario(
      `
      sftp:
        - path: ${dir}/app.sql
          sshhost: 127.0.0.1:${sshd.port}
          sshuser: ${sshd.user}
          sshkey: ${sshd.keyPath}
          sshknownhosts: ${sshd.knownHostsPath}
          ${keepYaml}`,
      async (name) => writeFileSync(join(dir, `${name}.keep`), '{}'),
      oracle,
    );
    const listed = readdirSync(dir);
    expect(backupsOf(listed)).toEqual(expected);
    expect(listed).toContain(`${names[0]}.keep`);
    expect(listed).toContain('other-app.sql');
  });
});
