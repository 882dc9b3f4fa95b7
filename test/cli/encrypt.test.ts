import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runCli } from '../../testutils/cli.js';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function ageKeygen(dir: string, name: string): { file: string; recipient: string } {
  const file = join(dir, name);
  const r = spawnSync('age-keygen', ['-o', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    throw new Error(`age-keygen is needed for these tests (scripts/install-test-deps.sh installs it): ${r.error?.message ?? r.stderr}`);
  return { file, recipient: spawnSync('age-keygen', ['-y', file], { encoding: 'utf8' }).stdout.trim() };
}

/** The real age CLI: decrypts `path` with the identity file; exit code, plaintext and stderr. */
function ageDecrypt(identity: string, path: string): { code: number | null; out: Buffer; stderr: string } {
  const r = spawnSync('age', ['-d', '-i', identity, path], { maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`age is needed for these tests (scripts/install-test-deps.sh installs it): ${r.error.message}`);
  return { code: r.status, out: r.stdout, stderr: r.stderr.toString() };
}

describe('onedump dump with encrypt: (age)', () => {
  const db = uniqueName('agedump');
  const m = sharedMariaDB();
  const keys = mkdtempSync(join(tmpdir(), 'onedump-agekeys-'));
  let alice: ReturnType<typeof ageKeygen>;
  let bob: ReturnType<typeof ageKeygen>;
  let eve: ReturnType<typeof ageKeygen>;

  beforeAll(async () => {
    alice = ageKeygen(keys, 'alice.txt');
    bob = ageKeygen(keys, 'bob.txt');
    eve = ageKeygen(keys, 'eve.txt');
    const c = await m.connect();
    await c.query(`CREATE DATABASE ${db}`);
    await c.query(`CREATE TABLE ${db}.events (id INT PRIMARY KEY, note VARCHAR(80), payload BLOB)`);
    // Enough rows for a multi-chunk (64 KiB) age payload even after gzip.
    await c.query(`INSERT INTO ${db}.events SELECT seq, CONCAT('note ', seq, ' it''s'), UNHEX(SHA2(seq, 256)) FROM ${db}.seq_1_to_20000`);
    await c.end();
  });

  afterAll(async () => {
    const c = await m.connect();
    await c.query(`DROP DATABASE IF EXISTS ${db}`);
    await c.end();
  });

  const jobYaml = (out: string, name: string, extra: string, paths: string[], keep?: number) =>
    `
  - name: ${name}
    dbdriver: mysqldump
    dbdsn: ${m.user}:\${DB_PASS}@tcp(${m.host}:${m.port})/${db}
    options: [--single-transaction, --quick, --hex-blob, --skip-dump-date]
${extra}
    storage:
      local:
${paths.map((p) => `        - path: ${out}/${p}${keep ? `\n          keep: ${keep}` : ''}`).join('\n')}
`;

  it('writes NAME.sql.gz.age copies that age -d decrypts with either identity to the exact dump; the sha256 is of the stored bytes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onedump-age-out-'));
    // Older backups of this job, and a file that is not this job's (an unencrypted .gz): keep: 2 removes only the oldest .age.
    mkdirSync(join(out, 'a'));
    for (const n of ['20200101000000-app.sql.gz.age', '20200102000000-app.sql.gz.age', '20200101000000-app.sql.gz'])
      writeFileSync(join(out, 'a', n), 'old');
    const cfg = join(out, 'jobs.yml');
    writeFileSync(
      cfg,
      'jobs:' +
        jobYaml(out, 'plain', '', ['plain/app.sql']) +
        jobYaml(
          out,
          'secret',
          `    gzip: true\n    unique: true\n    encrypt:\n      recipients:\n        - ${alice.recipient}\n        - ${bob.recipient}`,
          ['a/app.sql', 'b/app.sql'],
          2,
        ),
    );
    const r = await runCli(['dump', '-c', cfg, '--json'], { env: { DB_PASS: m.password } });
    expect(r.stderr).not.toContain(m.password);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { jobs: Array<{ job: string; ok: boolean; sha256: string; bytes: number; fileName: string }> };
    const secret = result.jobs.find((j) => j.job === 'secret')!;
    expect(secret.ok).toBe(true);
    expect(secret.fileName).toMatch(/^\d{14}-app\.sql\.gz\.age$/);

    const inA = readdirSync(join(out, 'a')).sort();
    expect(inA).toEqual(['20200101000000-app.sql.gz', '20200102000000-app.sql.gz.age', secret.fileName, `${secret.fileName}.manifest.json`]);
    expect(readdirSync(join(out, 'b')).sort()).toEqual([secret.fileName, `${secret.fileName}.manifest.json`]);
    // The manifest names the recipients' public keys, never a secret key.
    const manifest = JSON.parse(readFileSync(join(out, 'b', `${secret.fileName}.manifest.json`), 'utf8'));
    expect(manifest.encryption.algorithm).toBe('age');
    expect(manifest.encryption.recipients.every((k: string) => k.startsWith('age1'))).toBe(true);
    expect(JSON.stringify(manifest)).not.toMatch(/AGE-SECRET-KEY/);
    const a = readFileSync(join(out, 'a', secret.fileName));
    const b = readFileSync(join(out, 'b', secret.fileName));
    expect(a.equals(b)).toBe(true);
    expect(a.subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    expect(sha256(a)).toBe(secret.sha256);
    expect(a.length).toBe(secret.bytes);

    const plain = readFileSync(join(out, 'plain', 'app.sql'));
    expect(plain.toString()).toMatch(/INSERT INTO `events` VALUES/);
    for (const who of [alice, bob]) {
      const d = ageDecrypt(who.file, join(out, 'a', secret.fileName));
      expect(d.stderr).toBe('');
      expect(d.code).toBe(0);
      expect(gunzipSync(d.out).equals(plain)).toBe(true);
    }
    const wrong = ageDecrypt(eve.file, join(out, 'a', secret.fileName));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('no identity matched');
    expect(wrong.out.length).toBe(0);
  });

  it('onedump restore --identity loads an encrypted, compressed backup; without --identity it says what is missing', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onedump-age-out-'));
    const cfg = join(out, 'jobs.yml');
    writeFileSync(cfg, 'jobs:' + jobYaml(out, 'secret', `    gzip: true\n    encrypt:\n      recipients:\n        - ${alice.recipient}`, ['app.sql']));
    expect((await runCli(['dump', '-c', cfg], { env: { DB_PASS: m.password } })).code).toBe(0);
    const backup = join(out, 'app.sql.gz.age');
    const target = uniqueName('agerestore');
    const dsn = `${m.user}:${m.password}@tcp(${m.host}:${m.port})/`;
    const missing = await runCli(['restore', '--from', backup, '--dsn', dsn, '--target-db', target]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('is an encrypted (age) backup: pass --identity FILE');
    const wrong = await runCli(['restore', '--from', backup, '--dsn', dsn, '--target-db', target, '--identity', eve.file]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('not encrypted to any identity');
    const ok = await runCli(['restore', '--from', backup, '--dsn', dsn, '--target-db', target, '--identity', alice.file]);
    expect(ok.stderr).not.toContain(m.password);
    expect(ok.code).toBe(0);
    const c = await m.connect();
    try {
      const [[orig]] = (await c.query(`CHECKSUM TABLE ${db}.events`)) as unknown as [[{ Checksum: number }]];
      const [[copy]] = (await c.query(`CHECKSUM TABLE ${target}.events`)) as unknown as [[{ Checksum: number }]];
      expect(copy.Checksum).toBe(orig.Checksum);
      expect(Number(orig.Checksum)).toBeGreaterThan(0);
    } finally {
      await c.query(`DROP DATABASE IF EXISTS ${target}`);
      await c.end();
    }
  });

  it('--dry-run shows the .age names; bad recipients are config errors (exit 2) with their path, before anything runs', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onedump-age-out-'));
    const cfg = join(out, 'jobs.yml');
    writeFileSync(
      cfg,
      'jobs:' + jobYaml(out, 'plan', `    gzip: true\n    encrypt: { recipients: [${alice.recipient}] }`, ['never/app.sql']),
    );
    const plan = await runCli(['dump', '-c', cfg, '--dry-run'], { env: { DB_PASS: 'x' } });
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(', gzip, age-encrypted to 1 recipient(s)');
    expect(plan.stdout).toContain(`-> local[0]: ${out}/never/app.sql.gz.age`);

    const bad = join(out, 'bad.yml');
    writeFileSync(
      bad,
      'jobs:' +
        jobYaml(
          out,
          'bad',
          `    encrypt:\n      recipients:\n        - ${alice.recipient}\n        - ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ bob@host\n        - age1notakey`,
          ['never/app.sql'],
        ),
    );
    const r = await runCli(['dump', '-c', bad], { env: { DB_PASS: m.password } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('jobs[0].encrypt.recipients[1]: SSH public keys are not supported as recipients');
    expect(r.stderr).toContain('jobs[0].encrypt.recipients[2]: "age1notakey" is not a valid age recipient');
    expect(readdirSync(out).sort()).toEqual(['bad.yml', 'jobs.yml']);
  });
});
