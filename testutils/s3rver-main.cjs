// Runs s3rver in its own process (started by testutils/s3.ts with NODE_OPTIONS=--openssl-legacy-provider, which its
// ListObjectsV2 continuation tokens need). argv: directory, comma-separated buckets. Prints {"port":N} when listening.
const S3rver = require('s3rver');
const [directory, buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: (buckets || '').split(',').filter(Boolean).map((name) => ({ name })),
});
server.run().then(
  (addr) => process.stdout.write(JSON.stringify({ port: addr.port }) + '\n'),
  (err) => {
    process.stderr.write(`s3rver failed to start: ${err && err.stack}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
