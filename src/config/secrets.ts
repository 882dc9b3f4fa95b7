import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * `enc:v1:…` values: AES-256-GCM with a key derived (scrypt) from the key material in ONEDUMP_SECRET_KEY,
 * the file named by ONEDUMP_SECRET_KEY_FILE, or ~/.config/onedump/secret.key.
 */
export const ENC_PREFIX = 'enc:v1:';
const SALT = 'onedump-config-secret-v1';

export function defaultKeyFile(): string {
  return join(homedir(), '.config', 'onedump', 'secret.key');
}

export function loadKeyMaterial(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.ONEDUMP_SECRET_KEY) return env.ONEDUMP_SECRET_KEY;
  const file = env.ONEDUMP_SECRET_KEY_FILE ?? defaultKeyFile();
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function deriveKey(material: string): Buffer {
  return scryptSync(material, SALT, 32);
}

export function encryptSecret(plain: string, material: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(material), iv);
  const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return ENC_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
}

export function decryptSecret(value: string, material: string): string {
  const raw = Buffer.from(value.slice(ENC_PREFIX.length), 'base64');
  if (raw.length < 29) throw new Error('the encrypted value is truncated');
  const decipher = createDecipheriv('aes-256-gcm', deriveKey(material), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  try {
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('the encrypted value does not decrypt with this key (wrong ONEDUMP_SECRET_KEY or a damaged value)');
  }
}
