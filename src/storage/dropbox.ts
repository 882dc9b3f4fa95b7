import { z } from 'zod';
import { str, secret, posInt } from '../config/fields.js';
import { NotImplementedError } from '../util/errors.js';
import type { StorageBackend } from './backend.js';

const dropboxOptions = z.strictObject({
  path: str({ description: 'Path of the backup in Dropbox.', example: '/backups/app.sql', go: true }),
  refreshtoken: secret({ description: 'OAuth refresh token.', go: true }),
  clientid: str({ description: 'App key (client id).', go: true }),
  clientsecret: secret({ description: 'App secret (client secret).', go: true }),
  keep: posInt({ description: 'Keep only the newest N backups of this job in the folder.' }).optional(),
});
export type DropboxOptions = z.infer<typeof dropboxOptions>;

export const dropboxBackend: StorageBackend<DropboxOptions> = {
  kind: 'dropbox',
  summary: 'Dropbox (upload sessions in bounded chunks).',
  options: dropboxOptions,
  schemes: ['dropbox'],
  fromConfig() {
    throw new NotImplementedError('The dropbox storage');
  },
  fromUrl() {
    throw new NotImplementedError('The dropbox storage');
  },
  describe(o) {
    return `dropbox://${o.path}`;
  },
};
