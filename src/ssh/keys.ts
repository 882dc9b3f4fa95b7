import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { PermanentError } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';

export interface LoadedKey {
  /** The key text as ssh2 accepts it (OpenSSH or PEM). */
  pem: Buffer;
  parsed: ParsedKey;
  /** Where it came from, for messages (never the key itself). */
  source: 'file' | 'base64' | 'pem';
  /** Needed again by ssh2 when it parses the key for authentication. */
  passphrase?: string;
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p;
}

const PEM_HEAD = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * Reads the `sshkey` value the way the Go tool does: raw PEM/OpenSSH text, a file path, or base64 of the key text.
 * Throws a permanent error naming `what` (e.g. "job app: sshkey") when the key is missing, unreadable or encrypted
 * without a (correct) passphrase.
 */
export function loadPrivateKey(value: string, passphrase: string | undefined, what = 'sshkey'): LoadedKey {
  registerSecret(passphrase);
  const text = value.trim();
  let pem: Buffer;
  let source: LoadedKey['source'];
  if (PEM_HEAD.test(text)) {
    // YAML folded scalars or env vars sometimes turn newlines into literal "\n".
    pem = Buffer.from(text.includes('\n') ? text : text.replace(/\\n/g, '\n'));
    source = 'pem';
  } else if (existsSync(expandHome(text))) {
    try {
      pem = readFileSync(expandHome(text));
    } catch (err) {
      throw new PermanentError(`${what}: the key file "${text}" cannot be read (${(err as Error).message}).`);
    }
    source = 'file';
  } else if (/^[A-Za-z0-9+/=\s_-]+$/.test(text) && text.length > 64) {
    pem = Buffer.from(text.replace(/\s+/g, ''), 'base64');
    if (!PEM_HEAD.test(pem.toString('latin1'))) {
      throw new PermanentError(`${what}: the value is neither a key file path, base64 of a private key, nor PEM text.`);
    }
    source = 'base64';
  } else {
    throw new PermanentError(`${what}: no key file at "${text.length > 80 ? text.slice(0, 40) + '…' : text}" (give a path, base64 of the key, or the PEM text).`);
  }
  const parsed = ssh2.utils.parseKey(pem, passphrase);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase|bad decrypt/i.test(parsed.message);
    if (encrypted) {
      throw new PermanentError(
        passphrase
          ? `${what}: the key could not be decrypted with the given sshpassphrase.`
          : `${what}: the key is encrypted; set sshpassphrase.`,
      );
    }
    throw new PermanentError(`${what}: the private key does not parse (${parsed.message}); use an OpenSSH or PEM ed25519, ECDSA or RSA key.`);
  }
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed;
  return { pem, parsed: key, source, passphrase };
}
