import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect as netConnect } from 'node:net';
import { PassThrough } from 'node:stream';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { connectSsh, sshTarget, withSsh, splitHostPort } from '../../src/ssh/client.js';
import { loadPrivateKey } from '../../src/ssh/keys.js';
import { hostFieldMatches, fingerprintSha256 } from '../../src/ssh/hostkeys.js';
import { isTransient } from '../../src/util/errors.js';

let sshd: SshdInstance;
let n = 0;
const own = () => join(sshd.dir, `own_known_hosts_${++n}`);

beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

const base = () => ({ sshhost: `${sshd.host}:${sshd.port}`, sshuser: sshd.user, sshknownhosts: sshd.knownHostsPath });

describe('ssh keys', () => {
  it('loads a key from a path, base64 and raw PEM text', async () => {
    for (const value of [sshd.keyPath, Buffer.from(sshd.keyText).toString('base64'), sshd.keyText]) {
      const t = sshTarget({ ...base(), sshkey: value }, 'job "k"');
      const out = await withSsh(t, {}, async (s) => {
        const sink = new PassThrough();
        const chunks: Buffer[] = [];
        sink.on('data', (c: Buffer) => chunks.push(c));
        const r = await s.run('echo hello', { stdout: sink });
        expect(r.code).toBe(0);
        return Buffer.concat(chunks).toString();
      });
      expect(out.trim()).toBe('hello');
    }
  });

  it('authenticates with ECDSA and RSA (PEM) keys and an encrypted ed25519 key with its passphrase', async () => {
    const ecdsa = sshd.makeKey('ecdsa');
    const rsa = sshd.makeKey('rsa', { format: 'pem' });
    const enc = sshd.makeKey('ed25519', { passphrase: 'secret-pass-1' });
    for (const [k, p] of [[ecdsa], [rsa], [enc, 'secret-pass-1']] as Array<[string, string?]>) {
      const code = await withSsh(sshTarget({ ...base(), sshkey: k, sshpassphrase: p }, 'job'), {}, async (s) => (await s.run('true')).code);
      expect(code).toBe(0);
    }
  });

  it('says clearly when an encrypted key has no or a wrong passphrase, or does not parse', () => {
    const enc = sshd.makeKey('ed25519', { passphrase: 'right-one', authorize: false });
    expect(() => loadPrivateKey(enc, undefined, 'job "x": sshkey')).toThrow(/encrypted; set sshpassphrase/);
    expect(() => loadPrivateKey(enc, 'wrong-one', 'job "x": sshkey')).toThrow(/could not be decrypted/);
    const bad = join(sshd.dir, 'bad_key');
    writeFileSync(bad, '-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n');
    expect(() => loadPrivateKey(bad, undefined, 'job "x": sshkey')).toThrow(/job "x": sshkey: the private key does not parse/);
    expect(() => loadPrivateKey('/no/such/key', undefined, 'job "x": sshkey')).toThrow(/no key file at "\/no\/such\/key"/);
  });

  it('a refused key is a permanent error naming the host', async () => {
    const err = await connectSsh(sshTarget({ ...base(), sshkey: sshd.otherKeyPath }, 'job')).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/refused the key/);
    expect(isTransient(err)).toBe(false);
  });

  it('an unreachable host is transient', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const err = await connectSsh(sshTarget({ sshhost: `127.0.0.1:${port}`, sshuser: 'x', sshkey: sshd.keyPath }, 'job')).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/unreachable/);
    expect(isTransient(err)).toBe(true);
  });
});

describe('ssh host keys', () => {
  it('records an unknown host on first use, then trusts it', async () => {
    const ownFile = own();
    const t = sshTarget({ ...base(), sshknownhosts: join(sshd.dir, 'empty_known_hosts'), sshkey: sshd.keyPath }, 'job', { ownKnownHosts: ownFile });
    const notices: string[] = [];
    await withSsh(t, { onNotice: (m) => notices.push(m) }, async () => undefined);
    expect(notices.join()).toMatch(/first use/);
    expect(readFileSync(ownFile, 'utf8')).toContain(`[127.0.0.1]:${sshd.port} ${sshd.hostKeyLine}`);
    await withSsh(t, { onNotice: (m) => notices.push(m) }, async () => undefined);
    expect(notices).toHaveLength(1);
  });

  it('refuses a changed host key with a clear error', async () => {
    const kh = join(sshd.dir, 'changed_known_hosts');
    const other = readFileSync(`${sshd.otherKeyPath}.pub`, 'utf8').split(/\s+/).slice(0, 2).join(' ');
    writeFileSync(kh, `[127.0.0.1]:${sshd.port} ${other}\n`);
    const ownFile = own();
    const err = await connectSsh(sshTarget({ ...base(), sshknownhosts: kh, sshkey: sshd.keyPath }, 'job', { ownKnownHosts: ownFile })).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/host key of 127\.0\.0\.1:\d+ has changed/);
    expect(isTransient(err)).toBe(false);
    expect(existsSync(ownFile)).toBe(false);
  });

  it('accepts a hashed known_hosts entry (ssh-keygen -H)', async () => {
    const kh = join(sshd.dir, 'hashed_known_hosts');
    writeFileSync(kh, readFileSync(sshd.knownHostsPath));
    execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'pipe' });
    expect(readFileSync(kh, 'utf8')).toMatch(/^\|1\|/);
    const ownFile = own();
    await withSsh(sshTarget({ ...base(), sshknownhosts: kh, sshkey: sshd.keyPath }, 'job', { ownKnownHosts: ownFile }), {}, async () => undefined);
    expect(existsSync(ownFile)).toBe(false);
  });

  it('checks a pinned fingerprint', async () => {
    await withSsh(sshTarget({ ...base(), sshhostkey: sshd.hostKeyFingerprint, sshkey: sshd.keyPath }, 'job'), {}, async () => undefined);
    const err = await connectSsh(sshTarget({ ...base(), sshhostkey: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', sshkey: sshd.keyPath }, 'job')).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(/not the pinned sshhostkey/);
  });

  it('matches host patterns like OpenSSH', () => {
    expect(hostFieldMatches('a.example.com,[127.0.0.1]:2222', '[127.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches('*.example.com,!bad.example.com', 'bad.example.com')).toBe(false);
    expect(hostFieldMatches('*.example.com', 'db.example.com')).toBe(true);
    expect(hostFieldMatches('db?.example.com', 'db1.example.com')).toBe(true);
    expect(fingerprintSha256(Buffer.from('x'))).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(splitHostPort('h:2200')).toEqual({ host: 'h', port: 2200 });
    expect(splitHostPort('h', 23)).toEqual({ host: 'h', port: 23 });
  });
});

describe('ssh crypto binding notice', () => {
  it("passes the single executable's binding failure on at the first connection that listens, once", async () => {
    const g = globalThis as { __onedumpSshcryptoError?: string };
    g.__onedumpSshcryptoError = '/home/x/.cache is not a folder';
    try {
      const t = sshTarget({ ...base(), sshkey: sshd.keyPath }, 'job');
      await (await connectSsh(t)).close(); // nobody listens: nothing is used up
      const notices: string[] = [];
      for (let i = 0; i < 2; i++) await (await connectSsh(t, { onNotice: (m) => notices.push(m) })).close();
      expect(notices).toEqual([
        'SSH runs without its native crypto binding (/home/x/.cache is not a folder), at about half the speed; set XDG_CACHE_HOME to a folder of your own on a file system that allows running programs.',
      ]);
    } finally {
      delete g.__onedumpSshcryptoError;
    }
  });
});

describe('ssh tunnel and exec', () => {
  it('forwards a local port and passes stdin to a remote command', async () => {
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const echoPort = (echo.address() as { port: number }).port;
    try {
      await withSsh(sshTarget({ ...base(), sshkey: sshd.keyPath }, 'job'), {}, async (s) => {
        const tunnel = await s.listen('127.0.0.1', echoPort);
        const got = await new Promise<string>((resolve, reject) => {
          const c = netConnect({ host: tunnel.host, port: tunnel.port }, () => c.end('through the tunnel'));
          let buf = '';
          c.on('data', (d) => (buf += d.toString()));
          c.on('end', () => resolve(buf));
          c.on('error', reject);
        });
        expect(got).toBe('through the tunnel');
        const sink = new PassThrough();
        let text = '';
        sink.on('data', (c: Buffer) => (text += c.toString()));
        const r = await s.run('cat; echo err >&2; exit 3', { stdin: 'secret-on-stdin', stdout: sink });
        expect(r.code).toBe(3);
        expect(r.stderr.trim()).toBe('err');
        expect(text).toBe('secret-on-stdin');
        await tunnel.close();
      });
    } finally {
      echo.close();
    }
  });
});
