import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/util/errors.js';
import { encryptSecret } from '../../src/config/secrets.js';
import { redactText } from '../../src/util/redact.js';
import { compressionOf } from '../../src/jobs/compression.js';
import zlib from 'node:zlib';

const FIXTURES = join(__dirname, '..', 'fixtures', 'go-configs');

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'jobs.yml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

const job = (extra = '') => `
jobs:
  - name: app
    dbdriver: mysqldump
    dbdsn: root:pw@tcp(127.0.0.1:3306)/app
${extra}
    storage:
      local:
        - path: /tmp/app.sql
`;

describe('config loading', () => {
  it.each(readdirSync(FIXTURES))('accepts the Go tool example %s unchanged', async (file) => {
    const loaded = await loadConfig(join(FIXTURES, file));
    expect(loaded.config.jobs.length).toBeGreaterThan(0);
    expect(loaded.config.maxjobs).toBe(10);
  });

  it('applies defaults and keeps Go keys', () => {
    const { config, dsns } = parseConfigText(job('    gzip: true\n    options: [--skip-add-drop-table]'), 'x.yml', {});
    expect(config.jobs[0]).toMatchObject({ gzip: true, unique: false, options: ['--skip-add-drop-table'] });
    expect(config.mode).toBe('parallel');
    expect(dsns.get('app')).toMatchObject({ host: '127.0.0.1', password: 'pw' });
  });

  it('interpolates ${VAR}, ${VAR:-default}, VAR_FILE and re-types whole placeholders', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-cfg-'));
    writeFileSync(join(dir, 'pw'), 'from-file\n');
    const text = `maxjobs: \${MAXJOBS}\njobs:\n  - name: \${NAME:-dflt}\n    dbdriver: mysqldump\n    dbdsn: root:\${DB_PASS}@tcp(h:1)/d\n    gzip: \${GZ}\n    storage: { local: [{ path: "/b/$\${HOME}/x.sql" }] }\n`;
    const { config } = parseConfigText(text, 'x.yml', { MAXJOBS: '3', DB_PASS_FILE: join(dir, 'pw'), GZ: 'true' });
    expect(config.maxjobs).toBe(3);
    expect(config.jobs[0]).toMatchObject({ name: 'dflt', dbdsn: 'root:from-file@tcp(h:1)/d', gzip: true });
    expect((config.jobs[0]!.storage.local as Array<{ path: string }>)[0]!.path).toBe('/b/${HOME}/x.sql');
    // the secret from the file is now masked everywhere
    expect(redactText('the value is from-file')).toBe('the value is ***');
  });

  it('decrypts enc: values with the configured key', () => {
    const enc = encryptSecret('root:topsecret@tcp(db:3306)/app', 'key-material');
    const { config } = parseConfigText(job().replace('root:pw@tcp(127.0.0.1:3306)/app', enc), 'x.yml', { ONEDUMP_SECRET_KEY: 'key-material' });
    expect(config.jobs[0]!.dbdsn).toBe('root:topsecret@tcp(db:3306)/app');
    expect(problemsOf(job().replace('root:pw@tcp(127.0.0.1:3306)/app', enc), { ONEDUMP_SECRET_KEY: 'other' })).toEqual([
      'jobs[0].dbdsn: the encrypted value does not decrypt with this key (wrong ONEDUMP_SECRET_KEY or a damaged value)',
    ]);
  });

  it('reports malformed YAML with line and column', () => {
    expect(problemsOf('jobs:\n  - name: a\n   dbdriver: x\n')).toEqual([expect.stringMatching(/^line 3, column \d+: .*\(YAML syntax\)$/)]);
    expect(problemsOf('jobs: [\n')).toEqual([expect.stringMatching(/^line \d+, column \d+: /)]);
  });

  it('lists every problem at once, with paths and a did-you-mean hint', () => {
    const problems = problemsOf(`
maxjobs: 0
jobs:
  - name: a
    dbdriver: mysqll
    dbdsn: root@tcp(h:1)/d
    gzp: true
    storage:
      s3: [{ bucket: b, regoin: x }]
  - name: b
    dbdriver: mysqldump
    dbdsn: not a dsn
    storage: { local: [{ path: /x }] }
`);
    expect(problems).toEqual(
      expect.arrayContaining([
        'maxjobs: must be at least 1',
        'jobs[0].dbdriver: must be one of "mysql", "mysqldump", "postgresql", "pgdump"',
        'jobs[0].gzp: unknown key (did you mean "gzip"?)',
        'jobs[0].storage.s3[0].key: required',
        'jobs[0].storage.s3[0].regoin: unknown key (did you mean "region"?)',
        expect.stringMatching(/^jobs\[1\]\.dbdsn: the DSN has no "\/"/),
      ]),
    );
    expect(problems).toHaveLength(6);
  });

  it.each([
    ['a missing required field', job().replace(/ {4}dbdsn: .*\n/, ''), 'jobs[0].dbdsn: required'],
    ['a wrong type', job('    gzip: maybe'), 'jobs[0].gzip: expected boolean, got a string'],
    ['a quoted "true" (a string, as in the Go tool)', job('    gzip: "true"'), 'jobs[0].gzip: expected boolean, got a string'],
    ['an unknown driver', job().replace('mysqldump', 'oracle'), 'jobs[0].dbdriver: must be one of "mysql", "mysqldump", "postgresql", "pgdump"'],
    ['an empty jobs list', 'jobs: []\n', 'jobs: at least one job is required'],
    ['no jobs key', 'maxjobs: 2\n', 'jobs: required'],
    ['maxjobs: 0', `maxjobs: 0\n${job()}`, 'maxjobs: must be at least 1'],
    ['an unresolvable variable', job().replace('pw@', '${NOPE}@'), 'jobs[0].dbdsn: environment variable NOPE is not set (set it, set NOPE_FILE to a file holding it, or write ${NOPE:-default})'],
    [
      'an unresolvable variable that is the whole value (no follow-on "must not be empty")',
      job().replace('root:pw@tcp(127.0.0.1:3306)/app', '${NOPE_DSN}'),
      'jobs[0].dbdsn: environment variable NOPE_DSN is not set (set it, set NOPE_DSN_FILE to a file holding it, or write ${NOPE_DSN:-default})',
    ],
    ['a DSN that does not parse', job().replace('root:pw@tcp(127.0.0.1:3306)/app', 'root:pw@tcp(127.0.0.1:3306'), 'jobs[0].dbdsn: the DSN has no "/" before the database name (expected [user[:password]@]tcp(host:port)/dbname)'],
    ['a postgres DSN for a mysql driver', job().replace('root:pw@tcp(127.0.0.1:3306)/app', 'postgres://u@h/db'), 'jobs[0].dbdsn: is a postgres DSN but dbdriver is mysqldump'],
    ['duplicate job names', `jobs:\n${[1, 2].map(() => job().split('jobs:\n')[1]).join('')}`, 'jobs[1].name: duplicate job name "app" (also jobs[0])'],
    ['incomplete SSH settings', job('    sshhost: h'), 'jobs[0]: sshhost, sshuser and sshkey go together (sshuser, sshkey missing)'],
    ['a bad schedule', job('    schedule: every day'), 'jobs[0].schedule: "every day" is neither a cron expression (5 or 6 fields) nor a duration such as 30m or 6h'],
    ['a bad time zone', job('    schedule: 0 3 * * *\n    timezone: Mars/Olympus'), 'jobs[0].timezone: "Mars/Olympus" is not an IANA time zone (e.g. UTC, Europe/Berlin)'],
    ['a job without storage', job().replace(/ {4}storage:[\s\S]*/, '    storage: {}\n'), 'jobs[0].storage: at least one storage entry is required (e.g. local: [{ path: /backups/app.sql }])'],
    ['an empty file', '', 'the config file is empty (it needs at least a jobs: list)'],
    ['a list at the top', '- a\n- b\n', 'the config must be a YAML mapping with a jobs: list at the top level'],
  ])('rejects %s with one clear sentence', (_what, text, expected) => {
    expect(problemsOf(text)).toEqual([expected]);
  });

  it('says clearly when the file is missing, a folder, or unreadable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-cfg-'));
    await expect(loadConfig(join(dir, 'nope.yml'))).rejects.toThrow(/nope\.yml: the config file does not exist/);
    await expect(loadConfig(dir)).rejects.toThrow(/is a folder, not a config file/);
    const f = join(dir, 'locked.yml');
    writeFileSync(f, job());
    chmodSync(f, 0o000);
    if (process.getuid?.() !== 0) await expect(loadConfig(f)).rejects.toThrow(/not readable/);
    else await expect(loadConfig(f)).resolves.toBeTruthy(); // root reads any file
  });

  it('never echoes a secret-typed value in a problem', () => {
    const problems = problemsOf(job('    sshhost: h\n    sshuser: u\n    sshkey: 12345'));
    expect(problems.join('\n')).not.toContain('12345');
  });
  it('checks encrypt.recipients at load time, each with its path', () => {
    const good = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
    const { config } = parseConfigText(job(`    encrypt: { recipients: [${good}] }`), 'x.yml', {});
    expect(config.jobs[0]!.encrypt).toEqual({ recipients: [good] });
    const problems = problemsOf(
      job(
        [
          '    encrypt:',
          '      recipients:',
          `        - ${good}`,
          '        - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@host',
          `        - ${good.slice(0, -1)}q`,
          '        - AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX',
        ].join('\n'),
      ),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^jobs\[0\]\.encrypt\.recipients\[1\]: SSH public keys are not supported as recipients \(the age library onedump uses reads only age1… keys\); create a key with age-keygen/),
      expect.stringMatching(/^jobs\[0\]\.encrypt\.recipients\[2\]: "age1ql3z7hjy…" is not a valid age recipient/),
      expect.stringMatching(/^jobs\[0\]\.encrypt\.recipients\[3\]: is an age secret key \(an identity\), not a recipient/),
    ]);
    expect(problems.join('\n')).not.toContain('GFPYYSJZ');
    expect(problemsOf(job('    encrypt: { recipients: [] }'))).toEqual([expect.stringMatching(/^jobs\[0\]\.encrypt\.recipients: /)]);
    expect(problemsOf(job(`    encrypt: { recipients: [${good}, age1pq1abc] }`))).toEqual([
      expect.stringMatching(/^jobs\[0\]\.encrypt\.recipients\[1\]: "age1pq1abc" is not a valid age recipient/),
    ]);
  });
});

describe('Go parity of values (issue 21)', () => {
  const valid = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfigText(text, 'jobs.yml', env).config;

  it('reads every yaml.v3 bool spelling in boolean keys, quoted or not, and nothing else', () => {
    const spellings: Array<[string, boolean]> = [
      ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE'].map((s) => [s, true] as [string, boolean]),
      ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE'].map((s) => [s, false] as [string, boolean]),
    ];
    for (const [s, want] of spellings) {
      const quoted = /^(true|false)$/i.test(s) ? s : `"${s}"`; // a quoted "true" is a string, in yaml.v3 too
      for (const form of [s, quoted]) {
        const c = valid(job(`    gzip: ${form}\n    unique: ${form}`).replace('- path: /tmp/app.sql', `- path: /tmp/app.sql\n      s3: [{ bucket: b, key: k, forcepathstyle: ${form} }]`));
        expect([c.jobs[0]!.gzip, c.jobs[0]!.unique, (c.jobs[0]!.storage.s3 as Array<{ forcepathstyle: boolean }>)[0]!.forcepathstyle], form).toEqual([want, want, want]);
      }
    }
    for (const bad of ['yEs', 'oN', 'ja', '"true"', "'no '", '1', '0']) {
      expect(problemsOf(job(`    gzip: ${bad}`)), bad).toEqual([expect.stringMatching(/^jobs\[0\]\.gzip: expected boolean, got (a string|number)$/)]);
    }
  });

  it('keeps yes/no/on/off as text in string keys, and in a ${VAR} that fills a boolean key reads them as booleans', () => {
    const c = valid(job('    sshhost: on\n    sshuser: yes\n    sshkey: "no"\n    gzip: ${GZ}').replace('name: app', 'name: Off'), { GZ: 'Yes' });
    expect(c.jobs[0]).toMatchObject({ name: 'Off', sshhost: 'on', sshuser: 'yes', sshkey: 'no', gzip: true });
  });

  it('keeps every $ not followed by {; $${ is a literal ${; ${VAR} and ${VAR:-d} still work', () => {
    const dsnOf = (pw: string, env: NodeJS.ProcessEnv = {}) =>
      valid(job().replace('root:pw@', () => `'root:${pw}@`).replace('/app\n', "/app'\n"), env).jobs[0]!.dbdsn.replace(/^root:(.*)@tcp.*$/, '$1');
    const literal = ['pa$word', 'a$$b', 'trailing$', '$$', '$', '$1$2', '$(cmd)', '${', '$}', '${1abc}', '$ {X}'];
    for (const pw of literal) expect(dsnOf(pw), pw).toBe(pw);
    expect(dsnOf('$${X}')).toBe('${X}');
    expect(dsnOf('a$${X}b$$c')).toBe('a${X}b$$c');
    expect(dsnOf('$$${X}', { X: 'v' })).toBe('$${X}');
    expect(dsnOf('p${X}q', { X: 'v$$w' })).toBe('pv$$wq'); // a value from the environment is never re-read
    expect(dsnOf('${NOPE:-d$f}')).toBe('d$f');
    expect(problemsOf(job().replace('pw@', '${NOPE}@'))).toEqual([expect.stringContaining('environment variable NOPE is not set')]);
  });

  it('reads a key with no value as absent, as yaml.v3 gives the zero value: notifier:, slack:, s3:, options:', () => {
    for (const text of [
      `notifier:\n${job()}`,
      `notifier:\n  slack:\n${job()}`,
      job('    options:\n    sshhost:').replace('        - path: /tmp/app.sql', '        - path: /tmp/app.sql\n      s3:\n      sftp: ~'),
    ]) {
      const c = valid(text);
      expect(c.notifier?.slack ?? []).toEqual([]);
      expect(c.jobs[0]!.options).toBeUndefined();
      expect(Object.keys(c.jobs[0]!.storage)).toEqual(['local']);
    }
    expect(problemsOf(job().replace(/ {4}storage:[\s\S]*/, '    storage:\n'))).toEqual(['jobs[0].storage: required']);
    expect(problemsOf(job().replace('name: app', 'name:'))).toEqual(['jobs[0].name: required']);
  });

  it('merge keys and anchors work as in yaml.v3; a duplicate key is one sentence with both places', () => {
    const c = valid(`jobs:\n  - &base\n    name: a\n    dbdriver: mysqldump\n    dbdsn: root@tcp(h:1)/d\n    gzip: yes\n    storage: { local: [{ path: /x }] }\n  - <<: *base\n    name: b\n`);
    expect(c.jobs.map((j) => [j.name, j.gzip])).toEqual([
      ['a', true],
      ['b', true],
    ]);
    expect(problemsOf(job('    gzip: true\n    gzip: false'))).toEqual(['line 7, column 5: the key "gzip" appears twice in one mapping (first at line 6, column 5)']);
  });

  it('lists at most 20 problems, with the total in the message', () => {
    const n = 7 + Math.floor(Math.random() * 20);
    const err = (() => {
      try {
        parseConfigText(`jobs:\n${'  - {}\n'.repeat(n)}`, 'jobs.yml', {});
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err.problems).toHaveLength(20);
    expect(err.message.split('\n')[0]).toBe(`jobs.yml: ${4 * n} problems in the configuration (the first 20):`);
  });
});

describe('compression keys (issue 18)', () => {
  const zstdHere = typeof (zlib as unknown as Record<string, unknown>).zstdCompress === 'function';
  const choice = (extra: string) => compressionOf(parseConfigText(job(extra), 'x.yml', {}).config.jobs[0]!);

  it('gzip: true and gziplevel keep their meaning; compression: gzip|none and compressionlevel say the same', () => {
    expect(choice('')).toEqual({ algorithm: 'none' });
    expect(choice('    gzip: true')).toEqual({ algorithm: 'gzip', level: 6 });
    expect(choice('    gzip: true\n    gziplevel: 2')).toEqual({ algorithm: 'gzip', level: 2 });
    expect(choice('    compression: gzip\n    compressionlevel: 9')).toEqual({ algorithm: 'gzip', level: 9 });
    expect(choice('    gzip: true\n    compression: gzip')).toEqual({ algorithm: 'gzip', level: 6 });
    expect(choice('    compression: none')).toEqual({ algorithm: 'none' });
  });

  it('refuses contradictions and out-of-range levels, each in one line with its path', () => {
    expect(problemsOf(job('    gzip: true\n    compression: none'))).toEqual(['jobs[0].gzip: gzip: true contradicts compression: none; keep one of them']);
    expect(problemsOf(job('    compression: gzip\n    compressionlevel: 12'))).toEqual(['jobs[0].compressionlevel: gzip levels go from 1 to 9, not 12']);
    expect(problemsOf(job('    compressionlevel: 3'))).toEqual(['jobs[0].compressionlevel: has no meaning without compression (set compression: zstd or gzip)']);
    expect(problemsOf(job('    gzip: true\n    gziplevel: 5\n    compressionlevel: 7'))).toEqual(['jobs[0].compressionlevel: 7 contradicts gziplevel: 5; keep one of them']);
    expect(problemsOf(job('    compression: lz4'))[0]).toMatch(/^jobs\[0\]\.compression: .*"zstd"\|"gzip"\|"none"|^jobs\[0\]\.compression: .*zstd.*gzip.*none/);
    expect(problemsOf(job('    compression: gzip\n    compressionlevel: 20'))[0]).toMatch(/^jobs\[0\]\.compressionlevel: /);
  });

  it.skipIf(!zstdHere)('accepts compression: zstd (default level 3) where node:zlib has zstd', () => {
    expect(choice('    compression: zstd')).toEqual({ algorithm: 'zstd', level: 3 });
    expect(choice('    compression: zstd\n    compressionlevel: 19')).toEqual({ algorithm: 'zstd', level: 19 });
    expect(problemsOf(job('    gzip: true\n    compression: zstd'))).toEqual(['jobs[0].gzip: gzip: true contradicts compression: zstd; keep one of them']);
    expect(problemsOf(job('    compression: zstd\n    gziplevel: 4'))).toEqual(["jobs[0].gziplevel: applies to gzip only, and this job's compression is zstd (use compressionlevel)"]);
  });

  it.skipIf(zstdHere)('refuses compression: zstd on a Node without it, naming the Node version needed', () => {
    expect(problemsOf(job('    compression: zstd'))).toEqual([
      `jobs[0].compression: zstd needs Node.js 22.15 or later (or 23.8+), and this is Node.js ${process.version} (use the single executable or the Docker image, or compression: gzip)`,
    ]);
  });
});
