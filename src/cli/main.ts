#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { addGlobalOptions, action, examples, globals, reportError } from './common.js';
import { register as registerDump, runDumpCommand, type DumpFlags } from './dump.js';
import { register as registerConfig } from './config.js';
import { DEFAULT_SHUTDOWN_TIMEOUT, runDaemonCommand } from './daemon.js';
import { register as registerRestore } from './restore.js';
import { register as registerSlow } from './slow.js';
import { register as registerBinlog } from './binlog.js';
import { register as registerTz } from './tz.js';
import { register as registerSync } from './sync.js';
import { register as registerDownload } from './download.js';
import { register as registerLs } from './ls.js';
import { register as registerPrune } from './prune.js';
import { register as registerMark } from './mark.js';
import { register as registerStatus } from './status.js';
import { register as registerManifest } from './manifest.js';
import { register as registerVerify } from './verify.js';
import { register as registerExport } from './export.js';
import { register as registerCompletion } from './completion.js';
import { parseDuration } from '../util/duration.js';
import { UsageError } from '../util/errors.js';
import { removeSecretFiles } from '../util/secret-file.js';
import { hideArgvSecrets } from './argv-secrets.js';
import { normalizeArgs } from './go-argv.js';
import { VERSION } from '../version.js';

interface RootFlags extends DumpFlags {
  daemon?: boolean;
  cron?: string;
  shutdownTimeout?: string;
  healthPort?: string;
  healthHost?: string;
  s3Bucket?: string;
  awsRegion?: string;
  awsKey?: string;
  awsSecret?: string;
  awsSessionToken?: string;
}

export function buildProgram(): Command {
  const program = new Command('onedump');
  program
    .description('Back up MySQL/MariaDB and PostgreSQL to local disk, S3, Google Drive, Dropbox and SFTP; binlog point-in-time recovery; slow-log analysis; checksum file sync.')
    .version(VERSION, '--version', 'print the version')
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .option('--daemon', 'run the jobs on their schedules until SIGINT/SIGTERM')
    .option('--cron <interval>', 'the Go tool\'s interval (e.g. 1h): run every job at this interval (implies --daemon)')
    .option('--job <name...>', 'run only these jobs')
    .option('--shutdown-timeout <duration>', 'daemon: how long SIGTERM/SIGINT waits for running jobs before aborting them', DEFAULT_SHUTDOWN_TIMEOUT)
    .option('--health-port <port>', 'daemon: serve /healthz (JSON) and /metrics (Prometheus) on this port')
    .option('--health-host <host>', 'daemon: address the health endpoints listen on', '127.0.0.1')
    .addOption(new Option('-b, --s3-bucket <bucket>', 'the Go tool\'s form: read the config (-f KEY) from this S3 bucket').hideHelp())
    .addOption(new Option('-r, --aws-region <region>', 'region of --s3-bucket').hideHelp())
    .addOption(new Option('-k, --aws-key <id>', 'access key id for --s3-bucket (prefer AWS_ACCESS_KEY_ID)').hideHelp())
    .addOption(new Option('-s, --aws-secret <secret>', 'secret key for --s3-bucket (prefer AWS_SECRET_ACCESS_KEY)').hideHelp())
    .addOption(new Option('-t, --aws-session-token <token>', 'session token for --s3-bucket').hideHelp());
  addGlobalOptions(program);
  program.addHelpText(
    'after',
    examples(
      'onedump dump -c jobs.yml                     run every dump job once',
      'onedump --daemon -c jobs.yml                 run jobs on their schedules',
      'onedump --daemon -c jobs.yml --health-port 9464   ... with /healthz and /metrics',
      'onedump config validate -c jobs.yml          check a config',
      'onedump slow /var/log/mysql/slow.log.gz      top query shapes of a slow log',
      'onedump -f jobs.yml                          the Go tool\'s form (also: -f jobs.yml -c 1h)',
    ),
  );

  registerDump(program);
  registerConfig(program);
  registerSlow(program);
  addGlobalOptions(program.commands.find((c) => c.name() === 'slow')!, { config: false });
  registerBinlog(program);
  registerTz(program);

  registerRestore(program);
  registerSync(program);
  registerDownload(program);
  registerLs(program);
  registerPrune(program);
  registerMark(program);
  registerStatus(program);
  registerManifest(program);
  registerVerify(program);
  registerExport(program);
  registerCompletion(program); // last: its scripts cover every command registered before it

  // `onedump -f FILE` with no subcommand runs the dump jobs (the Go tool's form); --daemon / --cron schedule them.
  program.action(
    action(async (flags: RootFlags, cmd: Command) => {
      const g = { ...globals(cmd), ...flags };
      // Go form: `-f FILE -c 1h` — with -f naming the config, a -c value that is a duration is the interval.
      if (g.file && g.config && parseDuration(g.config) !== undefined && !/\.(ya?ml|json)$/i.test(g.config)) {
        g.cron = g.config;
        g.config = undefined;
      }
      if (g.s3Bucket) {
        const key = g.file ?? g.config;
        if (!key) throw new UsageError('--s3-bucket needs -f KEY (the config object\'s key).');
        if (g.awsKey) process.env.AWS_ACCESS_KEY_ID = g.awsKey;
        if (g.awsSecret) process.env.AWS_SECRET_ACCESS_KEY = g.awsSecret;
        if (g.awsSessionToken) process.env.AWS_SESSION_TOKEN = g.awsSessionToken;
        g.file = `s3://${g.s3Bucket}/${key.replace(/^\//, '')}${g.awsRegion ? `?region=${encodeURIComponent(g.awsRegion)}` : ''}`;
      }
      if (g.cron && parseDuration(g.cron) === undefined) throw new UsageError(`--cron "${g.cron}" is not a duration such as 30m or 1h.`);
      if (g.daemon || g.cron) return runDaemonCommand(g);
      if (!g.file && !g.config && !process.env.ONEDUMP_CONFIG) {
        cmd.outputHelp();
        return 2;
      }
      return runDumpCommand(g);
    }),
  );
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  // Under Node 20 the AWS SDK prints a NodeVersionSupportWarning ("upgrade to node >=22") on every S3 run: a
  // dependency's notice the user of a CLI cannot act on. This is the SDK's own switch for exactly that warning (the
  // S3 backend sets it too, for library use); every other warning still shows. A value the user set is kept.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const program = buildProgram();
  let args: string[];
  try {
    args = [...argv.slice(0, 2), ...normalizeArgs(program, argv.slice(2))];
  } catch (err) {
    hideArgvSecrets(argv);
    reportError(err, {});
    return;
  }
  const warning = hideArgvSecrets(args);
  if (warning) process.stderr.write(warning + '\n');
  process.on('exit', removeSecretFiles);
  try {
    await program.parseAsync(args);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were already printed by commander.
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    reportError(err, {});
  }
}

// Run directly (`tsx src/cli/main.ts`); bundles and bin/ use src/cli/onedump.ts as the entry.
if (/(^|[/\\])main\.(ts|js)$/.test(process.argv[1] ?? '')) void main();
