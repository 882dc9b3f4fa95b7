import { z } from 'zod';
import { str, secret, described, posInt } from '../config/fields.js';

/** SSH connection keys shared by jobs (tunnel / remote exec) and the SFTP storage. */
export const sshFields = {
  sshhost: str({ description: 'SSH host, optionally with :port.', example: 'db.example.com:22', go: true }),
  sshport: posInt({ description: 'SSH port (default 22, or the port in sshhost).', example: 2222 }).optional(),
  sshuser: str({ description: 'SSH user.', example: 'backup', go: true }),
  sshkey: secret({ description: 'Private key: a file path, base64 of the key, or the PEM text itself.', example: '~/.ssh/id_ed25519', go: true }),
  sshpassphrase: secret({ description: 'Passphrase of an encrypted private key.', example: '${SSH_KEY_PASSPHRASE}' }).optional(),
  sshknownhosts: described(z.string().optional(), { description: 'known_hosts file to check the host key against (default ~/.ssh/known_hosts, then onedump\'s own).', example: '/etc/onedump/known_hosts' }),
  sshhostkey: described(z.string().optional(), { description: 'Pinned host key fingerprint (SHA256:…) instead of known_hosts.', example: 'SHA256:abc…' }),
};
