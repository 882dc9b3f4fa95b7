import { generateKeyPairSync } from 'node:crypto';
import { startGDriveServer } from '../../testutils/gdrive-server.js';
import { defineSyncScenario } from './scenario.js';

defineSyncScenario('Google Drive (wire fake)', async () => {
  const email = 'sync@onedump-test.iam.gserviceaccount.com';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const drive = await startGDriveServer({ accounts: { [email]: publicKey.export({ type: 'spki', format: 'pem' }).toString() }, folders: ['sync-folder'] });
  return {
    url: (sub) => `gdrive://sync-folder/${sub}`,
    env: {
      ONEDUMP_GDRIVE_BASE_URL: drive.url,
      ONEDUMP_GDRIVE_EMAIL: email,
      ONEDUMP_GDRIVE_PRIVATEKEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    },
    stop: () => drive.close(),
  };
});

