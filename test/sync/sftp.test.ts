import { startSshd } from '../../testutils/sshd.js';
import { defineSyncScenario } from './scenario.js';

defineSyncScenario('SFTP (OpenSSH sshd)', async () => {
  const sshd = await startSshd();
  const q = `sshknownhosts=${encodeURIComponent(sshd.knownHostsPath)}`;
  return {
    url: (sub) => `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.dir}/${sub}?${q}`,
    args: ['--ssh-key', sshd.keyPath],
    sshKey: sshd.keyPath,
    stop: () => sshd.stop(),
  };
});
