import { describe, expect, it } from 'vitest';
import { SftpStorage, type SftpConn } from '../../src/storage/sftp.js';
import { isTransient } from '../../src/util/errors.js';

/**
 * The folder race of a sync over a cutting proxy: another upload creates the folder first, so mkdir gets OpenSSH's
 * bare "Failure", and the connection drops before the check that follows. That must surface as the (transient,
 * retried) connection fault, not as a permanent "could not create folder … Failure" that fails the file.
 */
function fakeConn(statAnswers: Array<Error | 'dir'>): SftpConn {
  const sftp = {
    stat(_p: string, cb: (e: Error | undefined, st?: unknown) => void) {
      const a = statAnswers.shift()!;
      if (a === 'dir') cb(undefined, { isDirectory: () => true });
      else cb(a);
    },
    mkdir(_p: string, _o: unknown, cb: (e?: Error) => void) {
      cb(Object.assign(new Error('Failure'), { code: 4 }));
    },
  };
  return { sftp, dead: false, onLost: new Set(), session: {} } as unknown as SftpConn;
}

const storage = new SftpStorage({ target: { host: '127.0.0.1', port: 22, user: 'u' } as never, root: '' });
const mkdirs = (c: SftpConn, dir: string) => (storage as unknown as { mkdirs(c: SftpConn, d: string): Promise<void> }).mkdirs(c, dir);
const noSuchFile = () => Object.assign(new Error('No such file'), { code: 2 });
const lost = () => Object.assign(new Error('the SSH connection was lost'), { code: 'ECONNRESET', transient: true });

describe('sftp storage: creating folders', () => {
  it('takes a folder another upload just created, and reports a dropped check as the transient fault it is', async () => {
    // /a exists; /a/b does not at first, mkdir says Failure, the check then finds it: fine.
    await expect(mkdirs(fakeConn([noSuchFile(), 'dir', 'dir']), '/a/b')).resolves.toBeUndefined();
    // Same, but the connection drops during the check: a transient error (retried), not "Failure".
    const err = await mkdirs(fakeConn([noSuchFile(), 'dir', lost()]), '/a/b').catch((e: unknown) => e);
    expect(isTransient(err)).toBe(true);
    expect((err as Error).message).toMatch(/could not check folder .*the SSH connection was lost/);
    // mkdir failed and the folder really is not there: permanent, naming the folder.
    const perm = await mkdirs(fakeConn([noSuchFile(), 'dir', noSuchFile()]), '/a/b').catch((e: unknown) => e);
    expect(isTransient(perm)).toBe(false);
    expect((perm as Error).message).toMatch(/could not create folder .*\/a\/b: Failure/);
  });
});
