import { z } from 'zod';
import { str, secret, described, bool, posInt } from '../config/fields.js';
import { NotImplementedError } from '../util/errors.js';
import type { StorageBackend } from './backend.js';

const s3Options = z.strictObject({
  bucket: str({ description: 'Bucket name.', example: 'my-backups', go: true }),
  key: str({ description: 'Object key of the backup (the file name part gets the unique prefix and .gz suffix).', example: 'db/app.sql', go: true }),
  region: described(z.string().optional(), { description: 'AWS region; defaults to AWS_REGION / the AWS config.', example: 'ap-southeast-2', go: true }),
  'access-key-id': secret({ description: 'Access key id; defaults to the AWS credential chain.', go: true }).optional(),
  'secret-access-key': secret({ description: 'Secret access key; defaults to the AWS credential chain.', go: true }).optional(),
  'session-token': secret({ description: 'Session token for temporary credentials.', go: true }).optional(),
  endpoint: described(z.string().url().optional(), { description: 'Endpoint of an S3-compatible store (MinIO, R2, …).', example: 'http://127.0.0.1:9000' }),
  forcepathstyle: bool({ description: 'Path-style addressing (bucket in the path), needed by most S3-compatible stores.' }).optional(),
  storageclass: described(z.string().optional(), { description: 'Storage class, e.g. STANDARD_IA, GLACIER_IR.', example: 'STANDARD_IA' }),
  partsize: posInt({ description: 'Multipart part size in MiB (min 5).', example: 16 }).optional(),
  queuesize: posInt({ description: 'Parts uploaded in parallel.', example: 4 }).optional(),
  checksums: described(z.enum(['when_supported', 'when_required']).optional(), {
    description: 'SDK request checksums: when_supported (AWS default) or when_required (for stores that mishandle aws-chunked uploads).',
  }),
  keep: posInt({ description: 'Keep only the newest N backups of this job under this prefix.' }).optional(),
});
export type S3Options = z.infer<typeof s3Options>;

export const s3Backend: StorageBackend<S3Options> = {
  kind: 's3',
  summary: 'Amazon S3 or an S3-compatible store (multipart upload, aborted on failure).',
  options: s3Options,
  schemes: ['s3'],
  fromConfig() {
    throw new NotImplementedError('The s3 storage');
  },
  fromUrl() {
    throw new NotImplementedError('The s3 storage');
  },
  describe(o) {
    return `s3://${o.bucket}/${o.key}`;
  },
};
