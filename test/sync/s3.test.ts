import { startS3 } from '../../testutils/s3.js';
import { defineSyncScenario } from './scenario.js';

defineSyncScenario('S3 (s3rver)', async () => {
  const s3 = await startS3(['sync-test']);
  const q = `endpoint=${encodeURIComponent(s3.endpoint)}&forcepathstyle=true&checksums=when_required&region=us-east-1`;
  return {
    url: (sub) => `s3://sync-test/${sub}?${q}`,
    env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
    stop: () => s3.stop(),
  };
});
