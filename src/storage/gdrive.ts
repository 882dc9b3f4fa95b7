import { z } from 'zod';
import { str, secret, posInt } from '../config/fields.js';
import { NotImplementedError } from '../util/errors.js';
import type { StorageBackend } from './backend.js';

const gdriveOptions = z.strictObject({
  filename: str({ description: 'File name of the backup in the folder.', example: 'app.sql', go: true }),
  folderid: str({ description: 'Id of the Drive folder (shared with the service account).', go: true }),
  email: str({ description: 'Service account e-mail.', example: 'backup@project.iam.gserviceaccount.com', go: true }),
  privatekey: secret({ description: 'Service account private key (PEM).', go: true }),
  keep: posInt({ description: 'Keep only the newest N backups of this job in the folder.' }).optional(),
});
export type GDriveOptions = z.infer<typeof gdriveOptions>;

export const gdriveBackend: StorageBackend<GDriveOptions> = {
  kind: 'gdrive',
  summary: 'Google Drive through a service account (resumable upload).',
  options: gdriveOptions,
  schemes: ['gdrive'],
  fromConfig() {
    throw new NotImplementedError('The gdrive storage');
  },
  fromUrl() {
    throw new NotImplementedError('The gdrive storage');
  },
  describe(o) {
    return `gdrive://${o.folderid}/${o.filename}`;
  },
};
