import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';

/** Runs a snippet in a fresh Node (the SDK warns at most once per process) and returns its stderr. */
function stderrOf(code: string): string {
  const env = { ...process.env };
  delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env, encoding: 'utf8', cwd: process.cwd() });
  if (r.status !== 0) throw new Error(`snippet failed: ${r.stderr}`);
  return r.stderr;
}

describe('AWS SDK Node version warning', () => {
  it('is not printed by the s3 storage (a bare S3Client prints it on Node < 22)', () => {
    const bare = stderrOf("import { S3Client } from '@aws-sdk/client-s3'; new S3Client({ region: 'us-east-1' }).destroy();");
    const major = Number(process.versions.node.split('.')[0]);
    expect(bare.includes('NodeVersionSupportWarning')).toBe(major < 22);
    const ours = stderrOf("import { S3Storage } from './src/storage/s3.ts'; await new S3Storage({ bucket: 'b', prefix: '', region: 'us-east-1' }).close();");
    expect(ours).not.toContain('NodeVersionSupportWarning');
  });
});
