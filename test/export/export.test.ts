import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { ROOT, runCli } from '../../testutils/cli.js';
import { requireBinary } from '../../testutils/binaries.js';
import { kubernetesSchedule, systemdTimer } from '../../src/export/schedule.js';

const EXAMPLE = 'deploy/jobs.example.yml';

function docs(yaml: string): Record<string, unknown>[] {
  return parseAllDocuments(yaml).map((d) => d.toJS() as Record<string, unknown>).filter(Boolean);
}

/** Validates each object against Kubernetes' own OpenAPI schemas (kubernetes-models); throws naming the problem. */
function validate(objects: Record<string, unknown>[]): string[] {
  return objects.map((o) => {
    const model = o.kind === 'CronJob' ? new CronJob(o as never) : o.kind === 'Deployment' ? new Deployment(o as never) : o.kind === 'ConfigMap' ? new ConfigMap(o as never) : undefined;
    if (!model) throw new Error(`unexpected kind ${String(o.kind)}`);
    model.validate();
    return `${String(o.kind)}/${(o.metadata as { name: string }).name}`;
  });
}

describe('onedump export kubernetes', () => {
  it('CronJobs and the ConfigMap validate against the Kubernetes schemas and say what the issue asks', async () => {
    const r = await runCli(['export', 'kubernetes', '-c', EXAMPLE, '--namespace', 'backups']);
    expect(r.code).toBe(0);
    const objects = docs(r.stdout);
    expect(validate(objects)).toEqual(['ConfigMap/onedump-config', 'CronJob/onedump-app', 'CronJob/onedump-billing']);
    const app = objects[1] as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(app.metadata.namespace).toBe('backups');
    expect(app.spec).toMatchObject({ schedule: '0 3 * * *', timeZone: 'Europe/Berlin', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 600 });
    const job = app.spec.jobTemplate.spec;
    expect(job.activeDeadlineSeconds).toBe(2 * 3600 + 60);
    expect(job.podFailurePolicy.rules[0]).toEqual({ action: 'FailJob', onExitCodes: { containerName: 'onedump', operator: 'In', values: [2, 11] } });
    const c = job.template.spec.containers[0];
    expect(c.args).toEqual(['dump', '-c', '/etc/onedump/jobs.yml', '--job', 'app', '--log-format', 'json']);
    expect(c.env).toContainEqual({ name: 'APP_DB_PASS_FILE', value: '/run/secrets/onedump/APP_DB_PASS' });
    expect(c.volumeMounts).toContainEqual({ name: 'backups', mountPath: '/backups/app', subPath: 'backups_app' });
    expect(objects[2]!.spec).toMatchObject({ schedule: '0 */6 * * *' });
    // The config goes into the ConfigMap as written: placeholders, no secret.
    expect((objects[0] as { data: Record<string, string> }).data['jobs.yml']).toBe(readFileSync(join(ROOT, EXAMPLE), 'utf8'));
    expect(r.stdout).toContain('kubectl create secret generic onedump-secrets --from-file=APP_DB_PASS=./APP_DB_PASS --from-file=BILLING_DB_PASS=./BILLING_DB_PASS --from-file=HC_APP_UUID=./HC_APP_UUID');
  });

  it('--daemon is a Deployment with /healthz probes, valid too', async () => {
    const r = await runCli(['export', 'kubernetes', '-c', EXAMPLE, '--daemon']);
    expect(r.code).toBe(0);
    const objects = docs(r.stdout);
    expect(validate(objects)).toEqual(['ConfigMap/onedump-config', 'Deployment/onedump-daemon']);
    const c = (objects[1] as any).spec.template.spec.containers[0]; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(c.args.slice(0, 3)).toEqual(['--daemon', '-c', '/etc/onedump/jobs.yml']);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(c.ports).toEqual([{ name: 'health', containerPort: 9464 }]);
  });

  it('refuses a secret written in the file (it would land in a ConfigMap), a job without a schedule and an interval no cron says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-export-'));
    const cfg = (job: string) => {
      const p = join(dir, `${Math.random().toString(36).slice(2)}.yml`);
      writeFileSync(p, `jobs:\n  - name: app\n    dbdriver: mysqldump\n${job}    storage: { local: [{ path: /b/app.sql }] }\n`);
      return p;
    };
    const literal = await runCli(['export', 'kubernetes', '-c', cfg('    schedule: 1h\n    dbdsn: root:hunter2@tcp(db:3306)/app\n')]);
    expect(literal.code).toBe(2);
    expect(literal.stderr).toMatch(/jobs\[0\]\.dbdsn holds a secret written in the file, which would be stored in a ConfigMap; write it as \$\{VAR\}/);
    expect(literal.stderr + literal.stdout).not.toContain('hunter2');
    const none = await runCli(['export', 'kubernetes', '-c', cfg('    dbdsn: root@tcp(db:3306)/app\n')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('onedump: job "app" has no schedule: set schedule: on the job or at the top level (a CronJob needs one).\n');
    const odd = await runCli(['export', 'kubernetes', '-c', cfg('    schedule: 7h\n    dbdsn: root@tcp(db:3306)/app\n')]);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toContain('schedule "7h" is an interval that does not divide an hour or a day evenly');
  });
});

describe('onedump export systemd', () => {
  it('writes a hardened service and a Persistent timer per job that systemd-analyze verify accepts', async () => {
    const analyze = requireBinary('systemd-analyze');
    const out = mkdtempSync(join(tmpdir(), 'onedump-units-'));
    // ExecStart must name an executable that exists for verify: the checkout's own bin/onedump.js.
    const r = await runCli(['export', 'systemd', '-c', EXAMPLE, '--out', out, '--binary', join(ROOT, 'bin', 'onedump.js')]);
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['onedump-app.service', 'onedump-app.timer', 'onedump-billing.service', 'onedump-billing.timer']);
    const v = spawnSync(analyze, ['verify', ...readdirSync(out).map((f) => join(out, f))], { encoding: 'utf8' });
    expect({ status: v.status, stderr: v.stderr }).toEqual({ status: 0, stderr: '' });
    const service = readFileSync(join(out, 'onedump-app.service'), 'utf8');
    for (const line of ['Type=oneshot', 'LoadCredential=APP_DB_PASS:/etc/onedump/credentials/APP_DB_PASS', 'Environment=APP_DB_PASS_FILE=%d/APP_DB_PASS', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'ReadWritePaths=/backups/app', 'SuccessExitStatus=11', 'TimeoutStartSec=7260s'])
      expect(service.split('\n')).toContain(line);
    const timer = readFileSync(join(out, 'onedump-app.timer'), 'utf8').split('\n');
    expect(timer).toEqual(expect.arrayContaining(['OnCalendar=*-*-* 03:00:00 Europe/Berlin', 'Persistent=true', 'RandomizedDelaySec=5min']));
  });

  it('cron expressions become OnCalendar forms that fire at the same times (systemd-analyze calendar)', () => {
    const analyze = requireBinary('systemd-analyze');
    const cases: [string, string][] = [
      ['0 3 * * *', '*-*-* 03:00:00'],
      ['*/15 * * * *', '*-*-* *:00/15:00'],
      ['30 2 * * 1-5', 'Mon..Fri *-*-* 02:30:00'],
      ['0 4 1,15 * *', '*-*-01,15 04:00:00'],
      ['0 0 * 1-3 0', 'Sun *-01..03-* 00:00:00'],
      ['0 0 3 * * *', '*-*-* 03:00:00'],
    ];
    for (const [cron, calendar] of cases) {
      const line = systemdTimer('j', cron)[0]!;
      expect(line).toBe(`OnCalendar=${calendar}`);
      const r = spawnSync(analyze, ['calendar', calendar], { encoding: 'utf8' });
      expect(r.status, `${calendar}: ${r.stderr}`).toBe(0);
    }
    expect(systemdTimer('j', '45m')).toEqual(['OnBootSec=5min', 'OnUnitActiveSec=2700s']);
    expect(() => systemdTimer('j', '0 0 1 * 1')).toThrow(/restricts both the day of the month and the day of the week/);
    expect(kubernetesSchedule('j', '30m')).toBe('*/30 * * * *');
    expect(() => kubernetesSchedule('j', '15 0 3 * * *')).toThrow(/fires at seconds other than 0/);
  });
});

describe('deploy/ examples', () => {
  it('are what the current code renders', async () => {
    const k = await runCli(['export', 'kubernetes', '-c', EXAMPLE, '--namespace', 'backups']);
    expect(k.stdout).toBe(readFileSync(join(ROOT, 'deploy/kubernetes/cronjobs.yaml'), 'utf8'));
    const d = await runCli(['export', 'kubernetes', '-c', EXAMPLE, '--namespace', 'backups', '--daemon']);
    expect(d.stdout).toBe(readFileSync(join(ROOT, 'deploy/kubernetes/daemon.yaml'), 'utf8'));
    const out = mkdtempSync(join(tmpdir(), 'onedump-units-'));
    expect((await runCli(['export', 'systemd', '-c', EXAMPLE, '--out', out])).code).toBe(0);
    for (const f of readdirSync(join(ROOT, 'deploy/systemd'))) expect(readFileSync(join(out, f), 'utf8')).toBe(readFileSync(join(ROOT, 'deploy/systemd', f), 'utf8'));
  });
});
