// Starts the bench's servers (OpenSSH sshd and s3rver, from testutils), makes the 300-file tree, prints their
// coordinates as one JSON line, and stops them on SIGTERM. Used by bench/sync.sh.
import { startSshd } from '../testutils/sshd.js';
import { startS3 } from '../testutils/s3.js';
import { makeTree } from '../testutils/tree.js';

const tree = process.argv[2];
if (!tree) throw new Error('usage: sync-servers.ts TREE_DIR');
makeTree(tree, 300);
const sshd = await startSshd();
const s3 = await startS3(['bench']);
process.stdout.write(
  JSON.stringify({ port: sshd.port, user: sshd.user, key: sshd.keyPath, knownHosts: sshd.knownHostsPath, dir: sshd.dir, endpoint: s3.endpoint }) + '\n',
);
const stop = async () => {
  await Promise.allSettled([sshd.stop(), s3.stop()]);
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
setInterval(() => undefined, 1 << 30);
