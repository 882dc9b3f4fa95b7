import { startMariaDB } from '../testutils/mariadb.js';
const m = await startMariaDB({ args: ['--innodb-buffer-pool-size=1G', '--max-allowed-packet=64M'] });
console.log(JSON.stringify({ port: m.port, socket: m.socket, password: m.password, datadir: m.datadir }));
process.on('SIGTERM', async () => { await m.stop(); process.exit(0); });
setInterval(() => {}, 1 << 30);
