import { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { addGlobalOptions, action, configPath, examples, globals, type GlobalOptions } from './common.js';
import { readExportInput } from '../export/input.js';
import { kubernetesManifests } from '../export/kubernetes.js';
import { systemdUnits } from '../export/systemd.js';
import { UsageError } from '../util/errors.js';

interface KubernetesFlags extends GlobalOptions {
  image: string;
  namespace?: string;
  prefix?: string;
  daemon?: boolean;
  retries?: string;
  host?: string;
}

interface SystemdFlags extends GlobalOptions {
  binary?: string;
  configPath?: string;
  credentials?: string;
  user?: string;
  randomizedDelay?: string;
  out?: string;
  host?: string;
}

export function register(program: Command): void {
  const cmd = program.command('export').description('write manifests for external schedulers: Kubernetes CronJobs, systemd timers (docs/schedulers.md)');
  const k8s = cmd
    .command('kubernetes')
    .description('one CronJob per job (or a Deployment for --daemon) and the ConfigMap, as multi-document YAML on stdout')
    .option('--image <image>', 'container image', 'ghcr.io/liweiyi88/onedump:latest')
    .option('--namespace <ns>', 'metadata.namespace of every object')
    .option('--prefix <name>', 'name prefix of every object', 'onedump')
    .option('--daemon', 'a Deployment running onedump --daemon with /healthz probes, instead of CronJobs')
    .option('--retries <n>', 'backoffLimit: retries of a failed run (exit codes 2 and 11 are never retried)', '2')
    .option('--host <name>', 'the host name that @daily-random and @hourly-random schedules are spread by (default this machine\'s)');
  addGlobalOptions(k8s);
  k8s.addHelpText('after', examples('onedump export kubernetes -c jobs.yml --namespace backups | kubectl apply -f -'));
  k8s.action(action(async (flags: KubernetesFlags, c: Command) => exportKubernetes({ ...globals(c), ...flags })));

  const sd = cmd
    .command('systemd')
    .description('a hardened service and a timer per job (into --out DIR, or on stdout)')
    .option('--binary <path>', 'the onedump executable on the host', '/usr/local/bin/onedump')
    .option('--config-path <path>', 'where the config is on the host', '/etc/onedump/jobs.yml')
    .option('--credentials <dir>', 'folder of one credential file per ${VAR} of the config (LoadCredential=)', '/etc/onedump/credentials')
    .option('--user <name>', 'User= and Group= of the services', 'onedump')
    .option('--randomized-delay <duration>', 'RandomizedDelaySec= of the timers', '5min')
    .option('--out <dir>', 'write the unit files into this folder')
    .option('--host <name>', 'the host name that @daily-random and @hourly-random schedules are spread by (default this machine\'s)');
  addGlobalOptions(sd);
  sd.addHelpText('after', examples('onedump export systemd -c jobs.yml --out /etc/systemd/system && systemctl daemon-reload && systemctl enable --now onedump-app.timer'));
  sd.action(action(async (flags: SystemdFlags, c: Command) => exportSystemd({ ...globals(c), ...flags })));
}

async function exportKubernetes(flags: KubernetesFlags): Promise<number> {
  const input = await readExportInput(configPath(flags) as string);
  if (input.literalSecrets.length)
    throw new UsageError(
      `${input.path}: ${input.literalSecrets.join(', ')} ${input.literalSecrets.length > 1 ? 'hold secrets' : 'holds a secret'} written in the file, which would be stored in a ConfigMap; write ${input.literalSecrets.length > 1 ? 'them' : 'it'} as \${VAR} (export turns each variable into a key of the Secret).`,
    );
  const retries = Number(flags.retries);
  if (!Number.isInteger(retries) || retries < 0 || retries > 20) throw new UsageError(`--retries "${flags.retries}" is not a number from 0 to 20.`);
  const docs = kubernetesManifests(input, { image: flags.image, namespace: flags.namespace, prefix: flags.prefix, daemon: flags.daemon, retries, host: flags.host });
  const secretNote = input.variables.length
    ? `# Secret ${flags.prefix ?? 'onedump'}-secrets (not written here) needs the keys: ${input.variables.join(', ')}\n#   kubectl create secret generic ${flags.prefix ?? 'onedump'}-secrets${input.variables.map((v) => ` --from-file=${v}=./${v}`).join('')}\n`
    : '';
  const local = input.config.jobs.some((j) => j.storage.local?.length);
  const pvcNote = local ? `# PersistentVolumeClaim ${flags.prefix ?? 'onedump'}-backups (not written here) holds the local destinations\n` : '';
  process.stdout.write(`# onedump export kubernetes from ${input.path}\n${secretNote}${pvcNote}` + docs.map((d) => `---\n${stringify(d, { lineWidth: 0 })}`).join(''));
  return 0;
}

async function exportSystemd(flags: SystemdFlags): Promise<number> {
  const input = await readExportInput(configPath(flags) as string);
  const units = systemdUnits(input, {
    binary: flags.binary ?? '/usr/local/bin/onedump',
    configPath: flags.configPath,
    credentialsDir: flags.credentials,
    user: flags.user,
    randomizedDelay: flags.randomizedDelay,
    host: flags.host,
  });
  if (flags.out) {
    const dir = resolve(flags.out);
    await mkdir(dir, { recursive: true });
    for (const u of units) await writeFile(join(dir, u.name), u.text, { mode: 0o644 });
    process.stdout.write(`wrote ${units.map((u) => u.name).join(', ')} to ${dir}\n`);
  } else {
    process.stdout.write(units.map((u) => `# ${u.name}\n${u.text}`).join('\n'));
  }
  if (input.variables.length)
    process.stderr.write(`onedump: the services read ${input.variables.join(', ')} from ${flags.credentials ?? '/etc/onedump/credentials'}/NAME (one file each, mode 0600, owned by root).\n`);
  return 0;
}
