import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { PermanentError } from '../util/errors.js';
import { mkdirsSync } from '../util/mkdirs.js';

/** `SHA256:base64` (no padding), the form `ssh-keygen -lf` and OpenSSH print. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The algorithm name at the start of an SSH wire-format public key blob, e.g. "ssh-ed25519". */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const n = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + n).toString('latin1');
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** onedump's own known_hosts, where first-use host keys are recorded. */
export function defaultOwnKnownHosts(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'onedump', 'known_hosts');
}

export function defaultUserKnownHosts(): string {
  return join(homedir(), '.ssh', 'known_hosts');
}

interface Entry {
  marker?: '@revoked' | '@cert-authority';
  patterns: string;
  type: string;
  blob: Buffer;
  file: string;
  line: number;
}

function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i');
}

/** Whether a known_hosts host field (comma list, wildcards, !negation, or |1|salt|hash) names `name`. */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    const h = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return h === hash;
  }
  let matched = false;
  for (const pat of field.split(',')) {
    if (pat.startsWith('!')) {
      if (globToRegExp(pat.slice(1)).test(name)) return false;
    } else if (globToRegExp(pat).test(name)) matched = true;
  }
  return matched;
}

export function parseKnownHosts(text: string, file: string): Entry[] {
  const out: Entry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    let marker: Entry['marker'];
    if (parts[0] === '@revoked' || parts[0] === '@cert-authority') marker = parts.shift() as Entry['marker'];
    const [patterns, type, b64] = parts;
    if (!patterns || !type || !b64) return;
    out.push({ marker, patterns, type, blob: Buffer.from(b64, 'base64'), file, line: i + 1 });
  });
  return out;
}

export interface HostKeyPolicy {
  host: string;
  port: number;
  /** Pinned fingerprint (SHA256:… as ssh-keygen prints it); when set, known_hosts is not consulted. */
  pinned?: string;
  /** known_hosts files to trust (default: ~/.ssh/known_hosts); onedump's own file is always consulted too. */
  knownHosts?: string[];
  /** Where first-use keys are recorded (default ~/.config/onedump/known_hosts). */
  ownKnownHosts?: string;
  /** Called when a host key is recorded on first use. */
  onRecorded?: (message: string) => void;
}

export class HostKeyError extends PermanentError {}

/**
 * Decides whether to trust the host key a server presented. Throws HostKeyError (permanent) when it must not be
 * trusted; records unknown hosts on first use into onedump's own known_hosts.
 */
export function checkHostKey(policy: HostKeyPolicy, keyBlob: Buffer): void {
  const where = `${policy.host}:${policy.port}`;
  const fp = fingerprintSha256(keyBlob);
  if (policy.pinned) {
    const want = policy.pinned.trim().replace(/=+$/, '');
    const norm = want.startsWith('SHA256:') ? want : `SHA256:${want}`;
    if (norm !== fp) {
      throw new HostKeyError(
        `The SSH host key of ${where} is ${fp}, not the pinned sshhostkey ${norm}; refusing to connect (if the server's key really changed, update sshhostkey).`,
      );
    }
    return;
  }
  const own = policy.ownKnownHosts ?? defaultOwnKnownHosts();
  const files = [...(policy.knownHosts ?? [defaultUserKnownHosts()]), own];
  const name = knownHostsName(policy.host, policy.port);
  const type = keyTypeOf(keyBlob);
  const entries: Entry[] = [];
  for (const f of files) {
    if (!existsSync(f)) continue;
    for (const e of parseKnownHosts(readFileSync(f, 'utf8'), f)) if (e.marker !== '@cert-authority' && hostFieldMatches(e.patterns, name)) entries.push(e);
  }
  const revoked = entries.find((e) => e.marker === '@revoked' && e.blob.equals(keyBlob));
  if (revoked) throw new HostKeyError(`The SSH host key of ${where} (${fp}) is marked @revoked in ${revoked.file}:${revoked.line}; refusing to connect.`);
  const live = entries.filter((e) => !e.marker);
  if (live.some((e) => e.blob.equals(keyBlob))) return;
  if (live.length) {
    const first = live.find((e) => e.type === type) ?? live[0]!;
    throw new HostKeyError(
      `The SSH host key of ${where} has changed: it presented ${type} ${fp} but ${first.file}:${first.line} has a different key; refusing to connect (if the change is expected, remove that line or pin the new key with sshhostkey).`,
    );
  }
  mkdirsSync(dirname(own), 0o700);
  appendFileSync(own, `${name} ${type} ${keyBlob.toString('base64')}\n`, { mode: 0o600 });
  policy.onRecorded?.(`SSH host ${where} was not known; recorded its ${type} key ${fp} in ${own} (first use)`);
}
