import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../testutils/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'onedump-cfgcli-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
const good = `jobs:\n  - name: app\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:3306)/app\n    storage:\n      local:\n        - path: /tmp/app.sql\n`;

describe('onedump config validate', () => {
  it('accepts a good config (exit 0)', async () => {
    const f = file('good.yml', good);
    const r = await runCli(['config', 'validate', '-c', f]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${f}: valid (1 job: app)\n`);
  });

  it.each([
    ['malformed YAML', 'jobs:\n  - name: a\n   dbdriver: x\n', /bad\.yml: line 3, column \d+: .*\(YAML syntax\)/],
    ['an unknown key', good.replace('dbdriver', 'dbdrvier'), /jobs\[0\]\.dbdrvier: unknown key \(did you mean "dbdriver"\?\)/],
    ['a missing field', good.replace(/ {4}dbdsn: .*\n/, ''), /jobs\[0\]\.dbdsn: required/],
    ['an unknown driver', good.replace('mysqldump', 'db2'), /jobs\[0\]\.dbdriver: must be one of/],
    ['a bad DSN', good.replace('/app', ''), /jobs\[0\]\.dbdsn: the DSN has no "\/"/],
    ['an unresolvable variable', good.replace('pw@', '${MISSING_PW}@'), /environment variable MISSING_PW is not set/],
    ['an empty jobs list', 'jobs: []\n', /jobs: at least one job is required/],
    ['maxjobs: 0', `maxjobs: 0\n${good}`, /maxjobs: must be at least 1/],
  ])('rejects %s: one sentence naming the file and path, exit 2', async (_what, text, expected) => {
    const f = file('bad.yml', text);
    const r = await runCli(['config', 'validate', '-c', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(expected);
    expect(r.stderr).toContain(f);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('rejects a missing config file with exit 2', async () => {
    const r = await runCli(['config', 'validate', '-c', join(dir, 'absent.yml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`onedump: ${join(dir, 'absent.yml')}: the config file does not exist (check the path given to -c/--config or ONEDUMP_CONFIG).\n`);
  });

  it('takes the config from ONEDUMP_CONFIG', async () => {
    const f = file('env.yml', good);
    const r = await runCli(['config', 'validate'], { env: { ONEDUMP_CONFIG: f } });
    expect(r.code).toBe(0);
  });

  it('an invalid config runs nothing: dump exits 2 before any connection', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onedump-none-'));
    const f = file('run.yml', good.replace('/tmp/app.sql', `${out}/app.sql`).replace('    storage:', '    gzp: true\n    storage:'));
    const r = await runCli(['-f', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('jobs[0].gzp: unknown key (did you mean "gzip"?)');
  });

  it('prints a JSON Schema with descriptions and secret markers', async () => {
    const r = await runCli(['config', 'schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    const job = schema.properties.jobs.items;
    expect(job.required).toEqual(expect.arrayContaining(['name', 'dbdriver', 'dbdsn', 'storage']));
    expect(job.properties.dbdsn.secret).toBe(true);
    expect(job.properties.storage.properties.s3.items.properties['secret-access-key'].secret).toBe(true);
    expect(job.additionalProperties).toBe(false);
  });

  it('encrypts a secret from stdin that the config then decrypts', async () => {
    const env = { ONEDUMP_SECRET_KEY: 'test-key-material' };
    const r = await runCli(['config', 'encrypt'], { env, input: 'root:enc-pw@tcp(127.0.0.1:3306)/app' });
    expect(r.code).toBe(0);
    const enc = r.stdout.trim();
    expect(enc).toMatch(/^enc:v1:/);
    const f = file('enc.yml', good.replace('root:pw@tcp(127.0.0.1:3306)/app', enc));
    expect((await runCli(['config', 'validate', f], { env })).code).toBe(0);
    const wrong = await runCli(['config', 'validate', f], { env: { ONEDUMP_SECRET_KEY: 'other' } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('does not decrypt with this key');
  });

  it('exits 2 for unknown commands and options, 0 for --help and --version', async () => {
    expect((await runCli(['frobnicate'])).code).toBe(2);
    expect((await runCli(['dump', '--no-such-flag'])).code).toBe(2);
    const help = await runCli(['dump', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect((await runCli(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
