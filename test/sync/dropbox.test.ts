import { startDropboxServer } from '../../testutils/dropbox-server.js';
import { defineSyncScenario } from './scenario.js';

defineSyncScenario('Dropbox (wire fake)', async () => {
  const app = { clientId: 'app-key-sync', clientSecret: 'app-secret-sync', refreshToken: 'refresh-token-sync' };
  const dropbox = await startDropboxServer(app);
  return {
    url: (sub) => `dropbox:///sync/${sub}`,
    env: {
      ONEDUMP_DROPBOX_BASE_URL: dropbox.url,
      DROPBOX_REFRESH_TOKEN: app.refreshToken,
      DROPBOX_CLIENT_ID: app.clientId,
      DROPBOX_CLIENT_SECRET: app.clientSecret,
    },
    stop: () => dropbox.close(),
  };
});
