import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PtClass {
  /** Last 16 hex digits of pt-query-digest's checksum: our fingerprint_id. */
  id: string;
  count: number;
  fingerprint: string;
  /** pt-query-digest's example statement for the class. */
  example: string;
}

/** Runs pt-query-digest on `file` and returns its classes. Throws (never skips) when it is missing. */
export async function ptQueryDigest(file: string): Promise<PtClass[]> {
  const { stdout } = await run('pt-query-digest', ['--output', 'json', '--limit', '100%:100000', file], {
    maxBuffer: 1 << 30,
  }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') {
      throw new Error('pt-query-digest is not installed; install it with: apt-get install -y percona-toolkit');
    }
    throw err;
  });
  const doc = JSON.parse(stdout) as {
    classes: { checksum: string; query_count: number; fingerprint: string; example?: { query?: string } }[];
  };
  return doc.classes.map((c) => ({
    id: c.checksum.slice(-16),
    count: c.query_count,
    fingerprint: c.fingerprint,
    example: c.example?.query ?? '',
  }));
}
