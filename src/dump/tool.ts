import type { Writable } from 'node:stream';
import type { DumpInfo, JobContext } from './types.js';
import { createSecretFile } from '../util/secret-file.js';
import { runDumpProcess } from './process.js';
import { classifyToolError } from './classify.js';
import { remoteDumpCommand, runRemoteDump } from './remote.js';

/** How to run a client dump tool (mysqldump, pg_dump) with its credentials in a 0600 file, locally or over SSH. */
export interface ToolDump {
  /** The tool's name in messages. */
  label: string;
  binary: string;
  /** Credential file: its kind (temp file name) and contents; undefined when there is no secret to pass. */
  secret?: { kind: string; content: string };
  /** Arguments; `cred` is the credential file's path ("{CRED}" on the remote side), undefined without a secret. */
  args(cred: string | undefined): string[];
  /** Environment of a local run; `cred` as in args. */
  env?(cred: string | undefined): NodeJS.ProcessEnv;
  /** Non-secret variables for a remote run; `cred` is "{CRED}" or undefined. */
  remoteEnv?(cred: string | undefined): Record<string, string>;
}

/**
 * Runs a dump tool into `out`: over SSH exec when the job has `sshhost` (the secret travels on stdin into a remote
 * 0600 file), else locally with the secret in a 0600 temp file removed afterwards. Failures become one sentence.
 */
export async function runToolDump(t: ToolDump, out: Writable, ctx: JobContext): Promise<DumpInfo> {
  try {
    if (ctx.job.sshhost) {
      await runRemoteDump({
        job: ctx.job,
        log: ctx.log,
        label: t.label,
        tool: t.binary,
        command: remoteDumpCommand(t.binary, t.args(t.secret ? '{CRED}' : undefined), t.remoteEnv?.(t.secret ? '{CRED}' : undefined)),
        secret: t.secret?.content ?? '',
        out,
        signal: ctx.signal,
      });
      return {};
    }
    const cred = t.secret ? createSecretFile(t.secret.kind, t.secret.content) : undefined;
    try {
      await runDumpProcess({ label: t.label, command: t.binary, args: t.args(cred?.path), env: t.env?.(cred?.path), signal: ctx.signal, out });
    } finally {
      cred?.remove();
    }
  } catch (err) {
    throw classifyToolError(err, ctx.job.name);
  }
  return {};
}
