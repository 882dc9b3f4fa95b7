import { beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  decryptStream,
  decryptStreamFromFile,
  encryptStream,
  parseIdentityFile,
  recipientProblem,
  recipientsProblem,
} from '../../src/crypto/age.js';
import { PermanentError, UsageError } from '../../src/util/errors.js';
import { redactText } from '../../src/util/redact.js';
import { randomStream, readAll, sha256Of } from '../../testutils/streams.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A key pair made by the real age-keygen: the identity file's text and its public key. */
function ageKeygen(dir: string, name: string): { file: string; text: string; recipient: string } {
  const file = join(dir, name);
  const r = spawnSync('age-keygen', ['-o', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0)
    throw new Error(`age-keygen is needed for these tests (scripts/install-test-deps.sh installs it): ${r.error?.message ?? r.stderr}`);
  const recipient = spawnSync('age-keygen', ['-y', file], { encoding: 'utf8' }).stdout.trim();
  return { file, text: readFileSync(file, 'utf8'), recipient };
}

/** Runs the real age CLI on a file; resolves with its exit code, stdout bytes and stderr. */
function ageCli(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('age', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

async function encryptToFile(data: Buffer, recipients: string[], path: string): Promise<void> {
  await pipeline(Readable.from([data]), encryptStream(recipients), createWriteStream(path));
}

async function decryptFile(path: string, identityText: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    createReadStream(path),
    decryptStream(identityText),
    new Writable({
      write(c: Buffer, _e, cb) {
        parts.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(parts);
}

describe('age encryption (typage) against the real age tool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onedump-age-'));
  let k1: ReturnType<typeof ageKeygen>;
  let k2: ReturnType<typeof ageKeygen>;
  let stranger: ReturnType<typeof ageKeygen>;

  beforeAll(() => {
    k1 = ageKeygen(dir, 'k1.txt');
    k2 = ageKeygen(dir, 'k2.txt');
    stranger = ageKeygen(dir, 'stranger.txt');
  });

  // 0 and exactly one 64 KiB chunk are the STREAM edge cases (an empty or full last chunk).
  it.each([0, 65_536, 5_000_001])('age -d decrypts a %i-byte stream with either identity; another identity fails', async (size) => {
    const data = randomBytes(size);
    const path = join(dir, `data-${size}.age`);
    await encryptToFile(data, [k1.recipient, k2.recipient], path);
    expect(readFileSync(path).subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    for (const k of [k1, k2]) {
      const r = await ageCli(['-d', '-i', k.file, path]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(sha256(r.stdout)).toBe(sha256(data));
    }
    const wrong = await ageCli(['-d', '-i', stranger.file, path]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('no identity matched');
  });

  it('decryptStream reads what age -r writes (identity files with comments, either key)', async () => {
    const data = randomBytes(3_000_000);
    const plain = join(dir, 'cli-plain.bin');
    const enc = join(dir, 'cli.age');
    writeFileSync(plain, data);
    const r = spawnSync('age', ['-r', k1.recipient, '-r', k2.recipient, '-o', enc, plain], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(k2.text).toMatch(/^# created:/m);
    expect((await decryptFile(enc, k2.text)).equals(data)).toBe(true);
    // Several identities in one file: any may match.
    expect((await decryptFile(enc, `${stranger.text}\n${k1.text}`)).equals(data)).toBe(true);
  });

  it('decryptStream round-trips a 50 MB stream', async () => {
    const src = randomStream(50 * 1024 * 1024);
    const { sha256: back, size } = await sha256Of(src.stream.pipe(encryptStream([k1.recipient])).pipe(decryptStream(k1.text)));
    expect(size).toBe(50 * 1024 * 1024);
    expect(back).toBe(await src.sha256);
  });

  it('a wrong identity, a damaged or truncated file, and a file that is not age fail with one clear sentence', async () => {
    const data = randomBytes(300_000);
    const path = join(dir, 'victim.age');
    await encryptToFile(data, [k1.recipient], path);
    const bytes = readFileSync(path);

    const wrong = decryptFile(path, stranger.text);
    await expect(wrong).rejects.toBeInstanceOf(PermanentError);
    await expect(wrong).rejects.toThrow('the backup is not encrypted to any identity in the identity file (wrong --identity?).');

    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1000]! ^= 0x01;
    writeFileSync(join(dir, 'flipped.age'), flipped);
    await expect(decryptFile(join(dir, 'flipped.age'), k1.text)).rejects.toThrow(
      /^the encrypted backup is damaged or truncated and cannot be decrypted/,
    );

    // Cut exactly at a chunk boundary: every chunk left authenticates, but the last-chunk flag is missing.
    const headerLen = bytes.length - (data.length + 16 * Math.ceil(data.length / 65_536));
    writeFileSync(join(dir, 'cut.age'), bytes.subarray(0, headerLen + 2 * (65_536 + 16)));
    await expect(decryptFile(join(dir, 'cut.age'), k1.text)).rejects.toThrow(/^the encrypted backup is damaged or truncated/);

    writeFileSync(join(dir, 'plain.sql.gz'), randomBytes(10_000));
    await expect(decryptFile(join(dir, 'plain.sql.gz'), k1.text)).rejects.toThrow(
      /^the backup is not an age-encrypted file or its header is damaged/,
    );
  });

  it('decryptStreamFromFile reads --identity FILE; a missing file is a usage error; the key is masked in any later log line', async () => {
    const data = randomBytes(100_000);
    const path = join(dir, 'fromfile.age');
    await encryptToFile(data, [k2.recipient], path);
    const back = await readAll(createReadStream(path).pipe(await decryptStreamFromFile(k2.file)));
    expect(back.equals(data)).toBe(true);
    await expect(decryptStreamFromFile(join(dir, 'nope.key'))).rejects.toThrow(
      new UsageError(`the identity file ${join(dir, 'nope.key')} does not exist.`),
    );
    const secret = k2.text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
    expect(redactText(`oops ${secret}`)).toBe('oops ***');
  });

  it('identity files that hold no usable age identity are usage errors that never echo the key', () => {
    expect(parseIdentityFile(k1.text)).toHaveLength(1);
    const bad = (text: string) => {
      try {
        parseIdentityFile(text, 'key.txt');
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error('expected the identity file to be rejected');
    };
    expect(bad('# nothing here\n\n')).toBe('key.txt holds no age identity (expected AGE-SECRET-KEY-1…, as age-keygen writes it).');
    expect(bad('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n')).toBe(
      'key.txt is a PEM/SSH private key; onedump decrypts only with age identities (AGE-SECRET-KEY-1…, from age-keygen).',
    );
    expect(bad('# key\nage1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n')).toBe(
      'key.txt, line 2: is not an age identity (expected AGE-SECRET-KEY-1…, as age-keygen writes it).',
    );
    const secret = k1.text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
    const damaged = secret.slice(0, -2) + (secret.endsWith('QQ') ? 'PP' : 'QQ');
    const msg = bad(damaged);
    expect(msg).toBe('key.txt, line 1: the age identity is damaged (bad length, character or checksum).');
    expect(msg).not.toContain(damaged.slice(16, 40));
    expect(() => decryptStream('')).toThrow(UsageError);
  });

  it('recipients: age1… and age1pq1… pass; secret keys, SSH keys, tags, typos and a PQ/X25519 mix are named', () => {
    expect(recipientProblem(k1.recipient)).toBeUndefined();
    expect(recipientProblem('age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p')).toBeUndefined();
    expect(recipientProblem('age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8q')).toMatch(
      /^"age1ql3z7hjy…" is not a valid age recipient \(bad length, character or checksum\)/,
    );
    expect(recipientProblem('age1ql3z7hjy')).toMatch(/is not a valid age recipient/);
    const secret = k1.text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
    const sm = recipientProblem(secret)!;
    expect(sm).toMatch(
      /^is an age secret key \(an identity\), not a recipient: put its public key here \(age-keygen -y KEYFILE prints it\)/,
    );
    expect(sm).not.toContain(secret.slice(16));
    expect(recipientProblem('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN alice@host')).toMatch(
      /^SSH public keys are not supported as recipients/,
    );
    expect(recipientProblem('ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ bob')).toMatch(/^SSH public keys are not supported/);
    expect(recipientProblem('age1tag1qwe')).toMatch(/^hardware-token tag recipients/);
    expect(recipientProblem('alice@example.com')).toBe(
      '"alice@exampl…" is not an age recipient; use the age1… public key that age-keygen prints',
    );
    expect(recipientsProblem([k1.recipient, k2.recipient])).toBeUndefined();
    expect(recipientsProblem([k1.recipient, 'age1pq1xyz'])).toMatch(/^mixes post-quantum/);
    expect(() => encryptStream(['ssh-rsa AAAA x'])).toThrow(UsageError);
  });

  it('checks keys as typage does without loading it: every one-character change of a key is judged alike', async () => {
    const typage = await import('age-encryption');
    /** Whether `f` runs without throwing. */
    const accepts = (f: () => unknown) => {
      try {
        f();
        return true;
      } catch {
        return false;
      }
    };
    const x25519 = await typage.generateIdentity();
    const hybrid = await typage.generateHybridIdentity();
    const keys = [
      { id: x25519, recipient: await typage.identityToRecipient(x25519) },
      { id: hybrid, recipient: await typage.identityToRecipient(hybrid) },
    ];
    expect(keys[1]!.recipient.startsWith('age1pq1')).toBe(true);
    const charset = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
    // The key itself, each character replaced (checksum), the key cut short and made longer.
    const variants = (k: string, lower: boolean) => {
      const out = [k, k.slice(0, -1), k + (lower ? 'q' : 'Q')];
      for (let i = 0; i < k.length; i += Math.max(1, Math.floor(k.length / 40))) {
        const c = charset[(charset.indexOf(k[i]!.toLowerCase()) + 1) % charset.length]!;
        out.push(k.slice(0, i) + (lower ? c : c.toUpperCase()) + k.slice(i + 1));
      }
      return out;
    };
    let accepted = 0;
    for (const { id, recipient } of keys) {
      for (const r of variants(recipient, true)) {
        const ours = recipientProblem(r) === undefined;
        expect(ours, r).toBe(accepts(() => new typage.Encrypter().addRecipient(r)));
        if (ours) accepted++;
      }
      for (const v of variants(id, false)) {
        const ours = accepts(() => parseIdentityFile(v));
        expect(ours, 'identity variant').toBe(accepts(() => new typage.Decrypter().addIdentity(v)));
        if (ours) accepted++;
      }
    }
    expect(accepted).toBe(4); // the two recipients and the two identities themselves
    // And the post-quantum pair round-trips through the lazily loaded library.
    const data = randomBytes(200_000);
    const enc = await readAll(Readable.from([data]).pipe(encryptStream([keys[1]!.recipient])));
    expect(Buffer.compare(await readAll(Readable.from([enc]).pipe(decryptStream(keys[1]!.id))), data)).toBe(0);
  });

  it('backpressure: with nobody reading the ciphertext, a producer that waits for drain is held back after a few chunks', async () => {
    const enc = encryptStream([k1.recipient]);
    const chunk = Buffer.alloc(64 * 1024, 7);
    let accepted = 0;
    let stalled = false;
    // A well-behaved producer (as the dumper is): write, and wait for 'drain' when told to.
    while (accepted < 64 * 1024 * 1024) {
      accepted += chunk.length;
      if (enc.write(chunk)) continue;
      stalled = !(await Promise.race([
        new Promise<boolean>((r) => enc.once('drain', () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), 300)),
      ]));
      if (stalled) break;
    }
    expect(stalled).toBe(true);
    expect(accepted).toBeLessThan(2 * 1024 * 1024);
    enc.destroy();
  });

  it('memory stays flat: 200 MB through encrypt and decrypt with bounded RSS growth', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    const size = 200 * 1024 * 1024;
    const src = randomStream(size);
    const tmp = join(dir, 'big.age');
    try {
      await pipeline(src.stream, encryptStream([k1.recipient, k2.recipient]), createWriteStream(tmp));
      const { sha256: back, size: n } = await sha256Of(createReadStream(tmp).pipe(decryptStream(k2.text)));
      expect(n).toBe(size);
      expect(back).toBe(await src.sha256);
    } finally {
      clearInterval(timer);
    }
    expect(statSync(tmp).size).toBeGreaterThan(size);
    // Buffering the dump would grow RSS by at least its size (200 MB).
    expect(peak - before).toBeLessThan(100 * 1024 * 1024);
  }, 120_000);
});
