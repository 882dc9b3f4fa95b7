import { dirname } from 'node:path';
import { parseDuration } from '../util/duration.js';
import { UsageError } from '../util/errors.js';
import { kubernetesSchedule } from './schedule.js';
import type { ExportInput } from './input.js';

/**
 * Kubernetes manifests for a config: one CronJob per job (`onedump dump --job NAME`), or with `daemon` one Deployment
 * running `onedump --daemon` with /healthz probes; plus the ConfigMap holding the config file. Every `${VAR}` the
 * config reads becomes `VAR_FILE=/run/secrets/onedump/VAR`, a key of the Secret `<prefix>-secrets` mounted as files
 * (the Secret itself is not written: its values are not ours to know). Local destinations are sub-folders of the
 * PersistentVolumeClaim `<prefix>-backups` (not written either: its size and class are the cluster's).
 *
 * Exit codes decide retries (docs/schedulers.md): 2 (bad config) and 11 (another run holds the lock) fail the Job at
 * once; other failures are retried up to backoffLimit; a pod evicted by a node drain does not count.
 */
export interface KubernetesOptions {
  image: string;
  namespace?: string;
  /** Name prefix of every object (default onedump). */
  prefix?: string;
  daemon?: boolean;
  /** Retries of a failed run (backoffLimit; default 2). */
  retries?: number;
  /** The host name `@daily-random` / `@hourly-random` are spread by (default this machine's): the CronJob gets that fixed time. */
  host?: string;
  /** startingDeadlineSeconds (default 600: a start missed by more than 10 minutes is skipped, not run late). */
  startingDeadlineSeconds?: number;
}

const CONFIG_DIR = '/etc/onedump';
const SECRETS_DIR = '/run/secrets/onedump';
const HEALTH_PORT = 9464;

export function kubernetesManifests(input: ExportInput, o: KubernetesOptions): Record<string, unknown>[] {
  const prefix = o.prefix ?? 'onedump';
  const labels = { 'app.kubernetes.io/name': 'onedump', 'app.kubernetes.io/instance': prefix };
  const meta = (name: string, extra: Record<string, string> = {}) => ({
    name,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    labels: { ...labels, ...extra },
  });
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(`${prefix}-config`),
    data: { 'jobs.yml': input.text },
  };
  const env = [
    ...input.variables.map((v) => ({ name: `${v}_FILE`, value: `${SECRETS_DIR}/${v}` })),
    { name: 'ONEDUMP_LOCK_DIR', value: '/tmp/onedump-locks' },
    // The V8 flags the single executable and the image start with (development.md).
    { name: 'NODE_OPTIONS', value: '--max-semi-space-size=4' },
  ];
  // Local destinations need storage that outlives the pod: one PersistentVolumeClaim, a sub-folder per destination folder.
  const localDirs = [...new Set(input.config.jobs.flatMap((j) => (j.storage.local ?? []).map((l) => dirname((l as { path: string }).path))))].sort();
  const volumes = [
    { name: 'config', configMap: { name: `${prefix}-config` } },
    ...(input.variables.length ? [{ name: 'secrets', secret: { secretName: `${prefix}-secrets`, defaultMode: 0o400 } }] : []),
    { name: 'tmp', emptyDir: {} },
    ...(localDirs.length ? [{ name: 'backups', persistentVolumeClaim: { claimName: `${prefix}-backups` } }] : []),
  ];
  const mounts = [
    { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
    ...(input.variables.length ? [{ name: 'secrets', mountPath: SECRETS_DIR, readOnly: true }] : []),
    { name: 'tmp', mountPath: '/tmp' },
    ...localDirs.map((d) => ({ name: 'backups', mountPath: d, subPath: d.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]+/g, '_') || 'root' })),
  ];
  const container = (args: string[], extra: Record<string, unknown> = {}) => ({
    name: 'onedump',
    image: o.image,
    args,
    env,
    volumeMounts: mounts,
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    },
    ...extra,
  });
  const podSecurity = { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } };

  if (o.daemon) {
    const probe = (path: string, initialDelaySeconds: number) => ({ httpGet: { path, port: 'health' }, initialDelaySeconds, periodSeconds: 30, timeoutSeconds: 5 });
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(`${prefix}-daemon`),
      spec: {
        replicas: 1,
        // One scheduler at a time: the old pod stops (finishing its runs) before the new one starts.
        strategy: { type: 'Recreate' },
        selector: { matchLabels: { ...labels, 'app.kubernetes.io/component': 'daemon' } },
        template: {
          metadata: {
            labels: { ...labels, 'app.kubernetes.io/component': 'daemon' },
            annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(HEALTH_PORT), 'prometheus.io/path': '/metrics' },
          },
          spec: {
            securityContext: podSecurity,
            // --shutdown-timeout 10m lets running jobs finish; the kubelet waits a little longer before SIGKILL.
            terminationGracePeriodSeconds: 660,
            containers: [
              container(['--daemon', '-c', `${CONFIG_DIR}/jobs.yml`, '--log-format', 'json', '--health-port', String(HEALTH_PORT), '--health-host', '0.0.0.0', '--shutdown-timeout', '10m'], {
                ports: [{ name: 'health', containerPort: HEALTH_PORT }],
                livenessProbe: probe('/healthz', 30),
                readinessProbe: probe('/healthz', 5),
              }),
            ],
            volumes,
          },
        },
      },
    };
    return [configMap, deployment];
  }

  const cronJobs = input.config.jobs.map((job) => {
    const schedule = job.schedule ?? input.config.schedule;
    if (!schedule) throw new UsageError(`job "${job.name}" has no schedule: set schedule: on the job or at the top level (a CronJob needs one).`);
    const timeoutMs = job.timeout ? parseDuration(job.timeout) : undefined;
    const timezone = job.timezone ?? input.config.timezone;
    return {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: meta(cronJobName(prefix, job.name), { 'onedump.dev/job': labelValue(job.name) }),
      spec: {
        schedule: kubernetesSchedule(job.name, schedule, o.host),
        ...(timezone ? { timeZone: timezone } : {}),
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: o.startingDeadlineSeconds ?? 600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            backoffLimit: o.retries ?? 2,
            // The job's own timeout: onedump aborts at `timeout`; the pod is stopped a minute later if it has not.
            ...(timeoutMs ? { activeDeadlineSeconds: Math.ceil(timeoutMs / 1000) + 60 } : {}),
            podFailurePolicy: {
              rules: [
                { action: 'FailJob', onExitCodes: { containerName: 'onedump', operator: 'In', values: [2, 11] } },
                { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
              ],
            },
            template: {
              metadata: { labels: { ...labels, 'app.kubernetes.io/component': 'job', 'onedump.dev/job': labelValue(job.name) } },
              spec: {
                restartPolicy: 'Never',
                securityContext: podSecurity,
                containers: [container(['dump', '-c', `${CONFIG_DIR}/jobs.yml`, '--job', job.name, '--log-format', 'json'])],
                volumes,
              },
            },
          },
        },
      },
    };
  });
  return [configMap, ...cronJobs];
}

/** A CronJob name: DNS-1123, at most 52 characters (the controller appends an 11-character suffix to its Jobs). */
export function cronJobName(prefix: string, job: string): string {
  const slug = `${prefix}-${job}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  return slug.length <= 52 ? slug : `${slug.slice(0, 43).replace(/-$/, '')}-${hash(job)}`;
}

function labelValue(v: string): string {
  const s = v.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return s.length <= 63 ? s : s.slice(0, 63).replace(/[^A-Za-z0-9]+$/, '');
}

function hash(s: string): string {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return (h >>> 0).toString(36).padStart(7, '0').slice(0, 8);
}
