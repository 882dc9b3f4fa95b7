import { z } from 'zod';
import { str, posInt, described } from '../config/fields.js';
import { sshFields } from '../ssh/options.js';
import { NotImplementedError } from '../util/errors.js';
import type { StorageBackend } from './backend.js';

const sftpOptions = z.strictObject({
  path: str({ description: 'Remote path of the backup.', example: '/var/backups/app.sql', go: true }),
  ...sshFields,
  maxattempts: described(z.number().int().min(0).optional(), { description: 'Upload attempts before giving up (0 = unlimited, as the Go tool).' }),
  keep: posInt({ description: 'Keep only the newest N backups of this job in the remote folder.' }).optional(),
});
export type SftpOptions = z.infer<typeof sftpOptions>;

export const sftpBackend: StorageBackend<SftpOptions> = {
  kind: 'sftp',
  summary: 'A file on an SSH server (written as path.partial, resumed by appending, renamed).',
  options: sftpOptions,
  schemes: ['sftp'],
  fromConfig() {
    throw new NotImplementedError('The sftp storage');
  },
  fromUrl() {
    throw new NotImplementedError('The sftp storage');
  },
  describe(o) {
    return `sftp://${o.sshuser}@${o.sshhost}${o.path.startsWith('/') ? '' : '/'}${o.path}`;
  },
};
