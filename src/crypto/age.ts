import { Duplex } from 'node:stream';
import type * as web from 'node:stream/web';
import { bech32 } from '@scure/base';
import { readFile } from 'node:fs/promises';
import { PermanentError, UsageError } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';
import { expandHome } from '../storage/local.js';

/**
 * age (https://age-encryption.org/v1) encryption and decryption as Node streams, on top of typage
 * (`age-encryption`). Both directions are streaming: the payload is processed in 64 KiB chunks with Web Streams
 * backpressure, so memory does not grow with the size of the backup.
 *
 * typage (with the noble curves and post-quantum code it brings) takes ~150 ms to load, so it is imported when a
 * stream starts, not with this module: every command loads the config validation below, few encrypt. Keys are
 * checked here as typage checks them (bech32 with its checksum, prefix, length) with @scure/base, its own bech32.
 */

/** Loaded on first use (see above). */
const typage = () => import('age-encryption');

/** The bytes of a bech32 string with this prefix (any case, as typage compares), or undefined. */
function bech32Bytes(s: string, prefix: string, long = false): Uint8Array | undefined {
  try {
    const { prefix: p, words } = bech32.decode(s as `${string}1${string}`, long ? false : 90);
    return p.toLowerCase() === prefix ? bech32.fromWords(words) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether typage would take this recipient: X25519 `age1…` (32 bytes) or ML-KEM-768+X25519 `age1pq1…` (1216). */
function validRecipient(s: string): boolean {
  if (s.startsWith('age1pq1')) return bech32Bytes(s, 'age1pq', true)?.length === 1216;
  return bech32Bytes(s, 'age')?.length === 32;
}

/** Whether typage would take this (upper-case) identity: `AGE-SECRET-KEY-1…` or `AGE-SECRET-KEY-PQ-1…`, 32 bytes. */
function validIdentity(s: string): boolean {
  if (s.startsWith('AGE-SECRET-KEY-PQ-1')) return bech32Bytes(s, 'age-secret-key-pq-')?.length === 32;
  return s.startsWith('AGE-SECRET-KEY-1') && bech32Bytes(s, 'age-secret-key-')?.length === 32;
}

const SECRET_KEY_RE = /^AGE-SECRET-KEY-(PQ-)?1/i;
const SSH_KEY_RE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-[a-z0-9-]+|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-[a-z0-9@.-]+)\s/;

function shortForm(s: string): string {
  return s.length > 16 ? `${s.slice(0, 12)}…` : s;
}

/** Why a string is not a recipient onedump encrypts to, as a sentence fragment after the config path; undefined when fine. */
export function recipientProblem(recipient: string): string | undefined {
  const s = recipient.trim();
  if (SECRET_KEY_RE.test(s)) {
    // Never echo it: it is a secret.
    return 'is an age secret key (an identity), not a recipient: put its public key here (age-keygen -y KEYFILE prints it) and keep the secret key off this host';
  }
  if (SSH_KEY_RE.test(s)) {
    return 'SSH public keys are not supported as recipients (the age library onedump uses reads only age1… keys); create a key with age-keygen and use its age1… public key';
  }
  if (/^age1tag(pq)?1/.test(s)) {
    return 'hardware-token tag recipients (age1tag1…) are not supported; use an age1… key from age-keygen';
  }
  if (!s.startsWith('age1')) {
    return `"${shortForm(s)}" is not an age recipient; use the age1… public key that age-keygen prints`;
  }
  if (!validRecipient(s)) {
    return `"${shortForm(s)}" is not a valid age recipient (bad length, character or checksum); copy the age1… public key again`;
  }
  return undefined;
}

/** Problems with a recipient list as a whole (each one already passed recipientProblem). */
export function recipientsProblem(recipients: string[]): string | undefined {
  const pq = recipients.filter((r) => r.trim().startsWith('age1pq1')).length;
  if (pq > 0 && pq < recipients.length) {
    return 'mixes post-quantum (age1pq1…) and X25519 (age1…) recipients, which would drop the post-quantum protection; use one kind';
  }
  return undefined;
}

/**
 * A Duplex whose writable side feeds `start`'s input and whose readable side is the stream `start` resolves to.
 * typage resolves its output stream asynchronously (after wrapping the file key, or after reading the header), so
 * the output is pulled lazily; every read waits for the consumer (highWaterMark 0) to keep memory flat.
 */
function lazyWebTransform(
  start: (input: ReadableStream<Uint8Array>) => Promise<ReadableStream<Uint8Array>>,
  describeError: (err: unknown) => Error,
): Duplex {
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const started = start(input.readable);
  // Surfaced through pull(); this keeps an early rejection from being reported as unhandled.
  started.catch(() => undefined);
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const output = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          reader ??= (await started).getReader();
          const r = await reader.read();
          if (r.done) controller.close();
          else controller.enqueue(r.value);
        } catch (err) {
          controller.error(describeError(err));
        }
      },
      async cancel(reason) {
        if (reader) await reader.cancel(reason).catch(() => undefined);
      },
    },
    { highWaterMark: 0 },
  );
  // The global Web Streams and node:stream/web declare the same classes under different type names.
  return Duplex.fromWeb({ readable: output as unknown as web.ReadableStream, writable: input.writable as unknown as web.WritableStream });
}

/**
 * Encrypts to the given age recipients (`age1…` X25519 or `age1pq1…` hybrid public keys, already validated by the
 * config loader). Write plaintext, read the age file.
 */
export function encryptStream(recipients: string[]): Duplex {
  if (recipients.length === 0) throw new UsageError('encryption needs at least one age recipient.');
  for (const r of recipients) {
    const problem = recipientProblem(r);
    if (problem) throw new UsageError(`age recipient ${problem}.`);
  }
  return lazyWebTransform(
    async (input) => {
      const enc = new (await typage()).Encrypter();
      for (const r of recipients) enc.addRecipient(r.trim());
      return enc.encrypt(input);
    },
    (err) => new PermanentError(`age encryption failed: ${(err as Error)?.message ?? String(err)}.`, { cause: err }),
  );
}

/**
 * Parses an age identity file: one `AGE-SECRET-KEY-1…` (or `AGE-SECRET-KEY-PQ-1…`) per line, `#` comments and blank
 * lines ignored, as `age-keygen` writes it. Throws UsageError (exit 2) naming what is wrong, never the key itself.
 */
export function parseIdentityFile(text: string, source = 'the identity file'): string[] {
  const ids: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.startsWith('-----BEGIN')) {
      throw new UsageError(
        `${source} is a PEM/SSH private key; onedump decrypts only with age identities (AGE-SECRET-KEY-1…, from age-keygen).`,
      );
    }
    if (!SECRET_KEY_RE.test(line)) {
      throw new UsageError(`${source}, line ${i + 1}: is not an age identity (expected AGE-SECRET-KEY-1…, as age-keygen writes it).`);
    }
    if (!validIdentity(line.toUpperCase())) {
      throw new UsageError(`${source}, line ${i + 1}: the age identity is damaged (bad length, character or checksum).`);
    }
    // Whatever logs or errors follow, the key never shows.
    registerSecret(line);
    ids.push(line.toUpperCase());
  }
  if (ids.length === 0) throw new UsageError(`${source} holds no age identity (expected AGE-SECRET-KEY-1…, as age-keygen writes it).`);
  return ids;
}

function decryptError(err: unknown): Error {
  const msg = (err as Error)?.message ?? String(err);
  if (/no identity matched/i.test(msg)) {
    return new PermanentError('the backup is not encrypted to any identity in the identity file (wrong --identity?).', { cause: err });
  }
  if (/invalid version|header|stanza|unexpected|stream ended|non-ASCII/i.test(msg) && !/HMAC/.test(msg)) {
    return new PermanentError(`the backup is not an age-encrypted file or its header is damaged (${msg}).`, { cause: err });
  }
  // A failed chunk MAC: the ciphertext was modified or truncated.
  return new PermanentError(`the encrypted backup is damaged or truncated and cannot be decrypted (${msg}).`, { cause: err });
}

/**
 * Decrypts an age file as a stream: write the stored `.age` bytes, read the plaintext (the `.gz` or `.sql`).
 * `identityFileText` is the content of an age identity file (age-keygen output); any of its identities may match.
 * Throws UsageError at once when the identity file is not usable; decryption failures (wrong identity, damaged or
 * truncated file) error the stream with a PermanentError. A truncated or modified file never yields its last chunk
 * without error: age authenticates every 64 KiB chunk and the end of the stream.
 */
export function decryptStream(identityFileText: string, source?: string): Duplex {
  const ids = parseIdentityFile(identityFileText, source);
  return lazyWebTransform(async (input) => {
    const dec = new (await typage()).Decrypter();
    for (const id of ids) dec.addIdentity(id);
    return dec.decrypt(input);
  }, decryptError);
}

/** Every age file starts with this line; restore can sniff it to tell an encrypted backup without its name. */
export const AGE_MAGIC = 'age-encryption.org/v1\n';

/** Whether a stored name is an encrypted backup, as jobs name them (`….age`). */
export function isAgeFileName(name: string): boolean {
  return name.endsWith('.age');
}

/** decryptStream with the identity file read from `path` (the restore command's `--identity FILE`). */
export async function decryptStreamFromFile(path: string): Promise<Duplex> {
  let text: string;
  try {
    text = await readFile(expandHome(path), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'is not readable by this user'
          : `cannot be read (${code ?? (err as Error).message})`;
    throw new UsageError(`the identity file ${path} ${why}.`, { cause: err });
  }
  return decryptStream(text, `the identity file ${path}`);
}
