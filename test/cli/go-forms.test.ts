import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runCli } from '../../testutils/cli.js';
import { buildProgram } from '../../src/cli/main.js';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { startS3, type S3Server } from '../../testutils/s3.js';

const work = mkdtempSync(join(tmpdir(), 'onedump-goforms-'));
// The program's own commands (a command added later is covered without editing this test).
const COMMANDS = buildProgram().commands.map((c) => c.name());

describe('unknown commands (issue 15)', () => {
  it('names the command, lists the commands and exits 2 (not "too many arguments")', async () => {
    const r = await runCli(['nosuch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`onedump: unknown command "nosuch"; the commands are ${COMMANDS.join(', ')} (run onedump --help).\n`);
    expect(r.stdout).toBe('');
  });

  // A typo of every command, generated: the last letter doubled, and for the longer names a letter dropped or two
  // neighbours swapped (short names have other commands as near as that).
  let long = 0;
  const typos = COMMANDS.flatMap((c) => {
    const more = c.length >= 6 ? [long++ % 2 ? c.slice(0, -1) : c[0]! + c[2]! + c[1]! + c.slice(3)] : [];
    return [c + c.at(-1), ...more].map((t) => [t, c] as const);
  });
  it.each(typos)('"onedump %s" asks: did you mean %s?', async (typo, meant) => {
    const r = await runCli([typo, '-c', 'jobs.yml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`onedump: unknown command "${typo}" (did you mean "${meant}"?); run onedump --help for the list.\n`);
  });

  it('--help after an unknown command is not success: exit 2, the command named, no help printed', async () => {
    // (The issue's example, `onedump status --help`, is a real command since issue 17: its help is success.)
    const status = await runCli(['status', '--help']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^Usage: onedump status /);
    const events = await runCli(['events', '--help']);
    expect(events.code).toBe(2);
    expect(events.stdout).toBe('');
    expect(events.stderr).toBe('onedump: unknown command "events" (did you mean "binlog events"?); run onedump --help for the list.\n');
    const nosuch = await runCli(['nosuch', '--help']);
    expect(nosuch.code).toBe(2);
    expect(nosuch.stderr).toContain('unknown command "nosuch"');
  });

  it('an unknown subcommand is named with its parent, with or without --help', async () => {
    const r = await runCli(['config', 'valdate', 'jobs.yml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('onedump: unknown command "config valdate" (did you mean "config validate"?); run onedump config --help for the list.\n');
    const h = await runCli(['binlog', 'nosuch', '--help']);
    expect(h.code).toBe(2);
    expect(h.stdout).toBe('');
    expect(h.stderr).toMatch(/^onedump: unknown command "binlog nosuch"; the commands of binlog are query, [^\n]*\(run onedump binlog --help\)\.\n$/);
  });

  it('help CMD prints the command\'s help (exit 0); --help still works everywhere', async () => {
    const r = await runCli(['help', 'dump']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: onedump dump /);
    const sub = await runCli(['help', 'config', 'validate']);
    expect(sub.stdout).toMatch(/^Usage: onedump config validate /);
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^Usage: onedump /);
  });
});

describe('the Go tool\'s forms: -x=VALUE, --flag=BOOL, YAML 1.1 booleans, $ and null (issue 21)', () => {
  const m = sharedMariaDB();
  const db = uniqueName('goforms');
  const users = [
    // password as the server has it, and as a Go config writes it (no interpolation there: `$` is literal)
    { user: `${db}_a`.slice(-32), password: 'pa$word', inConfig: 'pa$word' },
    { user: `${db}_b`.slice(-32), password: 'two$$dollars$', inConfig: 'two$$dollars$' },
    // the one escape: `$${` is a literal `${`
    { user: `${db}_c`.slice(-32), password: 'lit${X}eral', inConfig: 'lit$${X}eral' },
  ];

  beforeAll(async () => {
    const c = await m.connect();
    await c.query(`CREATE DATABASE ${db}`);
    await c.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, v VARCHAR(20))`);
    await c.query(`INSERT INTO ${db}.t VALUES (1, 'one'), (2, 'two')`);
    for (const u of users) {
      await c.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [u.user, u.password]);
      await c.query(`GRANT ALL PRIVILEGES ON *.* TO ?@'%'`, [u.user]);
    }
    await c.end();
  });

  afterAll(async () => {
    const c = await m.connect();
    await c.query(`DROP DATABASE IF EXISTS ${db}`);
    for (const u of users) await c.query(`DROP USER IF EXISTS ?@'%'`, [u.user]);
    await c.end();
  });

  /** A config shaped like the Go tool's README example, with the given job lines. */
  function goConfig(out: string, jobs: string[], top = ''): string {
    const f = join(out, 'jobs.yml');
    writeFileSync(f, `${top}jobs:\n${jobs.join('')}`);
    return f;
  }
  const goJob = (name: string, user: string, password: string, out: string, extra = '') =>
    `- name: ${name}\n  dbdriver: mysqldump\n  dbdsn: ${user}:${password}@tcp(${m.host}:${m.port})/${db}\n${extra}  storage:\n    local:\n      - path: ${out}/${name}.sql\n`;

  it('passwords with $ reach the server as written; $${ is a literal ${; ${VAR} still interpolates', async () => {
    const out = mkdtempSync(join(work, 'dollar-'));
    const jobs = users.map((u, i) => goJob(`j${i}`, u.user, u.inConfig, out));
    jobs.push(goJob('fromenv', users[0]!.user, '${GOFORMS_PW}', out));
    const r = await runCli(['-f', goConfig(out, jobs)], { env: { GOFORMS_PW: users[0]!.password } });
    expect(r.code, r.stderr).toBe(0);
    for (const name of ['j0', 'j1', 'j2', 'fromenv']) expect(readFileSync(join(out, `${name}.sql`), 'utf8')).toContain("(2,'two')");
  });

  it('yes/no/on/off/y/n in boolean keys (as gopkg.in/yaml.v3 reads them), a string key keeps "yes", notifier: and s3: empty', async () => {
    const out = mkdtempSync(join(work, 'bools-'));
    const u = users[0]!;
    const spellings = ['yes', 'Yes', 'YES', 'on', 'On', 'ON', 'y', 'Y', '"yes"'];
    const jobs = spellings.map((s, i) => goJob(`gz${i}`, u.user, u.password, out, `  gzip: ${s}\n  unique: ${['no', 'No', 'NO', 'off', 'Off', 'OFF', 'n', 'N', 'false'][i]}\n`));
    // `yes` as a job name is a string, not a boolean
    jobs.push(goJob('yes', u.user, u.password, out, '  gzip: off\n').replace('  storage:\n    local:', '  storage:\n    s3:\n    local:'));
    const f = goConfig(out, jobs, 'notifier:\n');
    const v = await runCli(['config', 'validate', f]);
    expect(v.stderr).toBe('');
    expect(v.stdout).toBe(`${f}: valid (${jobs.length} jobs: ${[...spellings.map((_, i) => `gz${i}`), 'yes'].join(', ')})\n`);
    const r = await runCli(['-f', f]);
    expect(r.code, r.stderr).toBe(0);
    // Each backup with its manifest beside it.
    const files = readdirSync(out).sort();
    const backups = [...spellings.map((_, i) => `gz${i}.sql.gz`), 'yes.sql'];
    expect(files).toEqual([...backups, ...backups.map((b) => `${b}.manifest.json`), 'jobs.yml'].sort());
    expect(gunzipSync(readFileSync(join(out, 'gz0.sql.gz'))).toString()).toContain("(1,'one')");
  });

  it.each([
    ['yEs', 'jobs[0].gzip: expected boolean, got a string'],
    ['"true"', 'jobs[0].gzip: expected boolean, got a string'],
    ['1', 'jobs[0].gzip: expected boolean, got number'],
  ])('gzip: %s is refused, as by the Go tool', async (value, problem) => {
    const out = mkdtempSync(join(work, 'badbool-'));
    const f = goConfig(out, [goJob('a', 'root', 'pw', out, `  gzip: ${value}\n`)]);
    const r = await runCli(['config', 'validate', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`onedump: ${f}: ${problem}.\n`);
  });

  it('-f=jobs.yml (the Go form with pflag\'s =) runs the jobs, as -f jobs.yml does', async () => {
    const out = mkdtempSync(join(work, 'feq-'));
    const u = users[1]!;
    const f = goConfig(out, [goJob('eq', u.user, u.inConfig, out)]);
    const r = await runCli([`-f=${f}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, 'eq.sql'), 'utf8')).toContain("(1,'one')");
  });

  it('slow -f=PATH -p=GLOB -l=N -m=false read like -f PATH -p GLOB -l N -m false', async () => {
    const folder = join(__dirname, '..', 'fixtures', 'slowlogs', 'short');
    const eq = await runCli(['slow', `-f=${folder}`, '-p=*.gz', '-l=1', '-m=false', '--json']);
    const spaced = await runCli(['slow', '-f', folder, '-p', '*.gz', '-l', '1', '-m', 'false', '--json']);
    expect(eq.code, eq.stderr).toBe(0);
    expect(eq.stdout).toBe(spaced.stdout);
    const j = JSON.parse(eq.stdout) as { files: number; results: unknown[]; groups: number };
    expect(j.files).toBe(1); // only the .gz
    expect(j.results).toHaveLength(1);
    expect(j.groups).toBeGreaterThan(1);
    const all = JSON.parse((await runCli(['slow', `-f=${folder}`, '--json'])).stdout) as { files: number };
    expect(all.files).toBe(readdirSync(folder).length);
  });

  it('--flag=true|false and -x=true|false on switches, as pflag reads them; anything else is one sentence', async () => {
    const src = mkdtempSync(join(work, 'sync-src-'));
    writeFileSync(join(src, 'a.txt'), 'a');
    const on = await runCli(['sync', `${src}/`, mkdtempSync(join(work, 'sync-dst-')), '--checksum=true']);
    expect(on.code, on.stderr).toBe(0);
    expect(existsSync(join(src, 'checksum.onedump'))).toBe(true);
    const off = await runCli(['sync', `${src}/`, mkdtempSync(join(work, 'sync-dst-')), '--checksum', '--checksum=False']);
    expect(off.code, off.stderr).toBe(0);
    expect(existsSync(join(src, 'checksum.onedump'))).toBe(false); // without --checksum the state file is removed

    const out = mkdtempSync(join(work, 'dry-'));
    const f = goConfig(out, [goJob('dry', users[0]!.user, users[0]!.password, out)]);
    const dry = await runCli(['dump', `-c=${f}`, '--dry-run=true', '-v=false']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(existsSync(join(out, 'dry.sql'))).toBe(false);
    const bad = await runCli(['dump', '-c', f, '-v=maybe']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('onedump: -v=maybe: -v is a switch; give it no value, or =true or =false.\n');
  });
});

describe('S3 under Node 20: no AWS SDK NodeVersionSupportWarning (issue 15), and download s3 -b=BUCKET (issue 21)', () => {
  let s3: S3Server;
  beforeAll(async () => {
    // This test process's own client would print it (noise in the test output); the CLI children run without it.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    s3 = await startS3(['gobucket']);
    const c = s3.client();
    await c.send(new PutObjectCommand({ Bucket: 'gobucket', Key: 'pre/one.txt', Body: 'one' }));
    await c.send(new PutObjectCommand({ Bucket: 'gobucket', Key: 'pre/sub/two.txt', Body: 'two' }));
    await c.send(new PutObjectCommand({ Bucket: 'gobucket', Key: 'other/three.txt', Body: 'three' }));
    c.destroy();
  });
  afterAll(() => s3?.stop());

  /** The environment of a user who never heard of the SDK's switch. */
  const env = () => ({
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: s3.region,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined,
  });

  it('a bare SDK client in this Node does print it when it is older than 22 (so the check below can fail)', () => {
    const e: NodeJS.ProcessEnv = { ...process.env };
    delete e.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', "import { S3Client } from '@aws-sdk/client-s3'; new S3Client({ region: 'us-east-1' }).destroy();"], {
      env: e,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.includes('NodeVersionSupportWarning')).toBe(Number(process.versions.node.split('.')[0]) < 22);
  });

  it('download s3 -b=gobucket -p=pre -d=DIR fetches the prefix and prints no warning', async () => {
    const dir = join(work, 'dl');
    const r = await runCli(['download', 's3', '-b=gobucket', '-p=pre', `-d=${dir}`], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning|node >=22|Warning:/);
    expect(readFileSync(join(dir, 'one.txt'), 'utf8')).toBe('one');
    expect(readFileSync(join(dir, 'sub', 'two.txt'), 'utf8')).toBe('two');
    expect(existsSync(join(dir, 'three.txt'))).toBe(false);
  });

  it('an upload (sync to s3://) and a config read from S3 print no warning either', async () => {
    const src = mkdtempSync(join(work, 'up-'));
    writeFileSync(join(src, 'jobs.yml'), 'jobs:\n  - name: s3cfg\n    dbdriver: mysqldump\n    dbdsn: root@tcp(h:1)/d\n    storage:\n      local:\n        - path: /tmp/x.sql\n');
    const up = await runCli(['sync', join(src, 'jobs.yml'), 's3://gobucket/cfg/'], { env: env() });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).not.toMatch(/NodeVersionSupportWarning|Warning:/);
    const v = await runCli(['config', 'validate', '-c', 's3://gobucket/cfg/jobs.yml'], { env: env() });
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toBe('s3://gobucket/cfg/jobs.yml: valid (1 job: s3cfg)\n');
    expect(v.stderr).toBe('');
  });
});
