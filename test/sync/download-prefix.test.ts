import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startS3, type S3Server } from '../../testutils/s3.js';
import { runCli } from '../../testutils/cli.js';
import { treeHashes } from '../../testutils/tree.js';
import { runCliWithUmask, modeOf, octal } from '../../testutils/umask-cli.js';
import { goDownloadPath } from '../../src/sync/download.js';

let s3: S3Server;
let work: string;
const contents = new Map<string, Buffer>();
const KEYS = ['binlogs/mysql-bin.000001', 'binlogs/mysql-bin.000002', 'binlogs/other', 'binlogsX/a', 'binlogs/sub/mysql-bin.000003'];

beforeAll(async () => {
  s3 = await startS3(['dl', 'clash']);
  work = mkdtempSync(join(tmpdir(), 'onedump-dl-prefix-'));
  const c = s3.client();
  try {
    for (const [i, key] of KEYS.entries()) {
      const body = randomBytes(100 + ((i * 7919) % 30_000));
      contents.set(key, body);
      await c.send(new PutObjectCommand({ Bucket: 'dl', Key: key, Body: body }));
    }
    // Two keys that name the same local file under prefix "binlogs".
    for (const key of ['binlogs/binlogsX/a', 'binlogsX/a']) await c.send(new PutObjectCommand({ Bucket: 'clash', Key: key, Body: key }));
  } finally {
    c.destroy();
  }
}, 60_000);
afterAll(async () => {
  await s3?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const env = () => ({
  AWS_ACCESS_KEY_ID: s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  AWS_ENDPOINT_URL_S3: s3.endpoint,
  AWS_REGION: 'us-east-1',
});
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * What the Go tool does (storage/s3/s3.go DownloadObjects, downloadObjectToDir): ListObjectsV2 with Prefix exactly as
 * given; keys ending in "/" skipped; each written to filepath.Join(dir, strings.TrimLeft(strings.TrimPrefix(key,
 * prefix), "/")). An empty name makes os.Create open the folder itself, which fails the run.
 */
function goTool(keys: string[], prefix: string): Map<string, string> | 'fails' {
  const out = new Map<string, string>();
  for (const key of [...keys].sort()) {
    if (!key.startsWith(prefix) || key === '' || key.endsWith('/')) continue;
    const name = key.slice(prefix.length).replace(/^\/+/, '');
    if (name === '') return 'fails';
    out.set(name, key);
  }
  return out;
}

/** Local name → key, as we are expected to write them (the table the docs give). */
const EXPECTED: Record<string, Record<string, string>> = {
  'binlogs/mysql-bin.0000': { 'mysql-bin.000001': 'binlogs/mysql-bin.000001', 'mysql-bin.000002': 'binlogs/mysql-bin.000002' },
  binlogs: {
    'mysql-bin.000001': 'binlogs/mysql-bin.000001',
    'mysql-bin.000002': 'binlogs/mysql-bin.000002',
    other: 'binlogs/other',
    'sub/mysql-bin.000003': 'binlogs/sub/mysql-bin.000003',
    'binlogsX/a': 'binlogsX/a',
  },
  'binlogs/': {
    'mysql-bin.000001': 'binlogs/mysql-bin.000001',
    'mysql-bin.000002': 'binlogs/mysql-bin.000002',
    other: 'binlogs/other',
    'sub/mysql-bin.000003': 'binlogs/sub/mysql-bin.000003',
  },
  '/binlogs/': {},
  '': Object.fromEntries(KEYS.map((k) => [k, k])),
  'binlogs/other': { other: 'binlogs/other' },
  binlogsX: { a: 'binlogsX/a' },
  'binlogs/m': { 'mysql-bin.000001': 'binlogs/mysql-bin.000001', 'mysql-bin.000002': 'binlogs/mysql-bin.000002' },
  'binlogs/sub/': { 'mysql-bin.000003': 'binlogs/sub/mysql-bin.000003' },
};
/** Where the Go tool's names differ (it cut names in half, or failed): local name → Go's name. */
const GO_DIFFERS: Record<string, Record<string, string> | 'fails'> = {
  'binlogs/mysql-bin.0000': { 'mysql-bin.000001': '01', 'mysql-bin.000002': '02' },
  binlogs: { 'binlogsX/a': 'X/a' },
  'binlogs/other': 'fails',
  'binlogs/m': { 'mysql-bin.000001': 'ysql-bin.000001', 'mysql-bin.000002': 'ysql-bin.000002' },
};

describe('download s3 --prefix (the Go tool\'s raw key prefix)', () => {
  let i = 0;
  for (const [prefix, expected] of Object.entries(EXPECTED)) {
    it(`--prefix ${JSON.stringify(prefix)} downloads the objects the Go tool would, named as the table says`, async () => {
      const dir = join(work, `go-${++i}`);
      // Each flag spelling the Go tool accepts, in turn.
      const flags = [
        ['--bucket', 'dl', '--prefix', prefix, '--dir', dir],
        [`--bucket=dl`, `--prefix=${prefix}`, `--dir=${dir}`],
        ['-b', 'dl', '-p', prefix, '-d', dir],
      ][i % 3]!;
      const r = await runCliWithUmask(0o027, ['download', 's3', ...flags, '--json'], { env: env() });
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout) as { downloaded: number; failed: number; source: string };
      expect(j.source).toBe(`s3://dl/${prefix}`);
      const got = existsSync(dir) ? treeHashes(dir) : new Map<string, string>();
      expect(Object.fromEntries([...got.keys()].sort().map((n) => [n, n]))).toEqual(Object.fromEntries(Object.keys(expected).sort().map((n) => [n, n])));
      for (const [name, key] of Object.entries(expected)) {
        expect(got.get(name), name).toBe(sha(contents.get(key)!));
        // Created 0666 less the umask (027 here), as the Go tool's os.Create.
        expect(octal(modeOf(join(dir, name)))).toBe('0640');
      }
      expect(j.downloaded).toBe(Object.keys(expected).length);

      // The same objects as the Go tool; the same names except where it cut a name in half or failed.
      const go = goTool(KEYS, prefix);
      const differs = GO_DIFFERS[prefix];
      if (go === 'fails') {
        expect(differs).toBe('fails');
      } else {
        expect([...go.values()].sort()).toEqual(Object.values(expected).sort());
        const byKey = new Map([...go].map(([name, key]) => [key, name]));
        for (const [name, key] of Object.entries(expected)) expect(byKey.get(key), key).toBe((differs as Record<string, string> | undefined)?.[name] ?? name);
      }
      if (Object.keys(expected).length === 0) expect(r.stderr).toMatch(/nothing to download/);
    });
  }

  it('a leading "/" is part of the prefix, as in the Go tool; when nothing matches, the warning names the prefix that would', async () => {
    const dir = join(work, 'slash');
    const r = await runCli(['download', 's3', '--bucket', 'dl', '--prefix', '/binlogs/', '--dir', dir], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe('onedump: nothing to download: no key in bucket dl starts with "/binlogs/", but some start with "binlogs/" (S3 keys seldom begin with "/"); use --prefix binlogs/.');
    expect(r.stdout).toMatch(/^downloaded 0 file\(s\)/);
    const none = await runCli(['download', 's3', '--bucket', 'dl', '--prefix', 'nope/', '--dir', dir], { env: env() });
    expect(none.code).toBe(0);
    expect(none.stderr.trim()).toBe('onedump: nothing to download: no key in bucket dl starts with "nope/".');
    expect(existsSync(dir)).toBe(false);
  });

  it('two keys that would be one local file are refused before anything is written', async () => {
    const dir = join(work, 'clash');
    const r = await runCli(['download', 's3', '-b', 'clash', '-p', 'binlogs', '-d', dir], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`onedump: objects binlogs/binlogsX/a and binlogsX/a would both be written to ${join(dir, 'binlogsX', 'a')}; download them with separate prefixes.`);
    expect(existsSync(dir)).toBe(false);
  });

  it('our own form keeps its folder meaning: s3://b/binlogs is the folder binlogs/, an exact key is that one object', async () => {
    const q = `?endpoint=${encodeURIComponent(s3.endpoint)}&forcepathstyle=true&region=us-east-1`;
    const cases: Array<[string, Record<string, string>]> = [
      ['binlogs', EXPECTED['binlogs/']!],
      ['binlogs/', EXPECTED['binlogs/']!],
      ['binlogs/other', { other: 'binlogs/other' }],
      ['binlogs/mysql-bin.0000', {}],
      ['binlogs/sub', { 'mysql-bin.000003': 'binlogs/sub/mysql-bin.000003' }],
    ];
    let n = 0;
    for (const [path, expected] of cases) {
      const dir = join(work, `own-${++n}`);
      const r = await runCli(['download', `s3://dl/${path}${q}`, dir, '--json'], { env: env() });
      expect(r.code, r.stderr).toBe(0);
      const got = existsSync(dir) ? treeHashes(dir) : new Map<string, string>();
      expect([...got.keys()].sort(), path).toEqual(Object.keys(expected).sort());
      for (const [name, key] of Object.entries(expected)) expect(got.get(name)).toBe(sha(contents.get(key)!));
    }
  });

  it('names follow the Go tool wherever it cuts at a "/" and keep the name whole where it cut inside one (generated keys)', () => {
    // Keys over a small alphabet so prefixes often end inside names, at slashes, and at doubled slashes.
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const alphabet = ['a', 'b', '/', '.', '0', '1'];
    let cutInside = 0;
    for (let t = 0; t < 3000; t++) {
      const key = Array.from({ length: 1 + rnd(12) }, () => alphabet[rnd(alphabet.length)]).join('');
      if (key.endsWith('/')) continue;
      const prefix = key.slice(0, rnd(key.length + 1));
      const go = key.slice(prefix.length).replace(/^\/+/, '');
      const ours = goDownloadPath(key, prefix);
      const atSlash = prefix === '' || prefix.endsWith('/') || key[prefix.length] === '/';
      if (atSlash) {
        expect(ours, `${key} under ${prefix}`).toBe(go);
      } else {
        cutInside++;
        // The whole name from the prefix's last slash on: it ends with what the Go tool kept.
        expect(ours.endsWith(go), `${key} under ${prefix}`).toBe(true);
        expect(key.endsWith(ours) && (key.length === ours.length || key[key.length - ours.length - 1] === '/'), `${key} under ${prefix}`).toBe(true);
        expect(ours).toBe(key.slice(prefix.lastIndexOf('/') + 1).replace(/^\/+/, ''));
      }
    }
    expect(cutInside).toBeGreaterThan(300);
  });
});
