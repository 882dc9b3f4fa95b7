import { dirname } from 'node:path';
import { parseDuration } from '../util/duration.js';
import { UsageError } from '../util/errors.js';
import type { ExportInput } from './input.js';
import { systemdTimer } from './schedule.js';

/**
 * A systemd service + timer per job: `onedump dump --job NAME` as a hardened oneshot service under its own user,
 * fired by a Persistent timer (a run missed while the host was off runs at boot) with a randomized delay. Every
 * `${VAR}` the config reads comes from a credential file through LoadCredential= (VAR_FILE=%d/VAR), never from the
 * unit or the environment of other processes.
 */
export interface SystemdOptions {
  /** The onedump executable (absolute). */
  binary: string;
  /** Where the config will be on the host (absolute; default /etc/onedump/jobs.yml). */
  configPath?: string;
  /** Folder of the credential files, one per variable (default /etc/onedump/credentials). */
  credentialsDir?: string;
  user?: string;
  /** RandomizedDelaySec (default 5min). */
  randomizedDelay?: string;
  /** Unit name prefix (default onedump). */
  prefix?: string;
  /** The host name `@daily-random` / `@hourly-random` are spread by (default this machine's). */
  host?: string;
}

export interface UnitFile {
  name: string;
  text: string;
}

export function systemdUnits(input: ExportInput, o: SystemdOptions): UnitFile[] {
  if (!o.binary.startsWith('/')) throw new UsageError(`--binary ${o.binary}: systemd needs an absolute path.`);
  const configPath = o.configPath ?? '/etc/onedump/jobs.yml';
  const credentials = o.credentialsDir ?? '/etc/onedump/credentials';
  const user = o.user ?? 'onedump';
  const delay = o.randomizedDelay ?? '5min';
  const prefix = o.prefix ?? 'onedump';
  const units: UnitFile[] = [];
  for (const job of input.config.jobs) {
    const schedule = job.schedule ?? input.config.schedule;
    if (!schedule) throw new UsageError(`job "${job.name}" has no schedule: set schedule: on the job or at the top level (a timer needs one).`);
    const name = `${prefix}-${unitSlug(job.name)}`;
    const timeoutMs = job.timeout ? parseDuration(job.timeout) : undefined;
    // Local destinations are the only places on this host the service writes besides its own state.
    const writable = [...new Set((job.storage.local ?? []).map((l) => dirname((l as { path: string }).path)))];
    const service = [
      '[Unit]',
      `Description=onedump backup job "${job.name}"`,
      'Documentation=https://github.com/liweiyi88/onedump',
      'Wants=network-online.target',
      'After=network-online.target',
      '',
      '[Service]',
      'Type=oneshot',
      `ExecStart=${quoteArg(o.binary)} dump -c ${quoteArg(configPath)} --job ${quoteArg(job.name)} --log-format json`,
      `User=${user}`,
      `Group=${user}`,
      // 11: another run holds the job's lock (skipped, not failed); see docs/schedulers.md for the exit codes.
      'SuccessExitStatus=11',
      `TimeoutStartSec=${timeoutMs ? `${Math.ceil(timeoutMs / 1000) + 60}s` : 'infinity'}`,
      'KillSignal=SIGTERM',
      'TimeoutStopSec=60s',
      ...input.variables.flatMap((v) => [`LoadCredential=${v}:${credentials}/${v}`, `Environment=${v}_FILE=%d/${v}`]),
      'Environment=ONEDUMP_LOCK_DIR=/run/onedump',
      'RuntimeDirectory=onedump',
      'RuntimeDirectoryPreserve=yes',
      'StateDirectory=onedump',
      'CacheDirectory=onedump',
      'Environment=XDG_CACHE_HOME=%C',
      'Nice=10',
      'IOSchedulingClass=best-effort',
      'IOSchedulingPriority=7',
      'UMask=0077',
      'NoNewPrivileges=yes',
      'PrivateTmp=yes',
      'PrivateDevices=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      ...(writable.length ? [`ReadWritePaths=${writable.map(quoteArg).join(' ')}`] : []),
      'ProtectKernelTunables=yes',
      'ProtectKernelModules=yes',
      'ProtectKernelLogs=yes',
      'ProtectControlGroups=yes',
      'ProtectClock=yes',
      'ProtectHostname=yes',
      'RestrictNamespaces=yes',
      'RestrictRealtime=yes',
      'RestrictSUIDSGID=yes',
      'LockPersonality=yes',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
      'CapabilityBoundingSet=',
      'SystemCallArchitectures=native',
      '',
    ].join('\n');
    const timer = [
      '[Unit]',
      `Description=Run onedump job "${job.name}" on its schedule (${schedule})`,
      '',
      '[Timer]',
      ...systemdTimer(job.name, schedule, job.timezone ?? input.config.timezone, o.host),
      'Persistent=true',
      `RandomizedDelaySec=${delay}`,
      `Unit=${name}.service`,
      '',
      '[Install]',
      'WantedBy=timers.target',
      '',
    ].join('\n');
    units.push({ name: `${name}.service`, text: service }, { name: `${name}.timer`, text: timer });
  }
  return units;
}

/** A unit name part: systemd allows [A-Za-z0-9:_.\\-]; anything else becomes "-". */
function unitSlug(s: string): string {
  return s.replace(/[^A-Za-z0-9:_.-]+/g, '-');
}

/** An ExecStart= argument: quoted when it holds a space or a quote; `%` doubled (systemd specifiers). */
function quoteArg(s: string): string {
  const t = s.replace(/%/g, '%%');
  return /[\s"'\\]/.test(t) ? `"${t.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : t;
}
