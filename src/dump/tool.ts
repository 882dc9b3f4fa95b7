import type { Writable } from 'node:stream';
import type { DumpInfo, JobContext } from './types.js';
import { createSecretFile } from '../util/secret-file.js';
import { runDumpProcess } from './process.js';
import { classifyToolError } from './classify.js';
import { remoteDumpCommand, runRemoteDump } from './remote.js';
import { observedWritable, type EndCheck } from './completeness.js';
import { OnedumpError } from '../util/errors.js';

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
  /**
   * The tool's end marker, checked after a clean exit (see completeness.ts); `unchecked` says why there is none
   * (e.g. --compact), logged once per run so that nobody believes a check ran.
   */
  endCheck?: EndCheck;
  unchecked?: string;
}

/**
 * Runs a dump tool into `out`: over SSH exec when the job has `sshhost` (the secret travels on stdin into a remote
 * 0600 file), else locally with the secret in a 0600 temp file removed afterwards. Failures become one sentence.
 */
export async function runToolDump(t: ToolDump, target: Writable, ctx: JobContext): Promise<DumpInfo> {
  const check = t.endCheck;
  const out = check ? observedWritable(target, (c) => check.observe(c)) : target;
  if (!check && t.unchecked) ctx.log.warn(`${t.label}: ${t.unchecked}; only its exit status says whether the dump is complete.`);
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
      await finish(out, target);
      return verdict(t);
    }
    const cred = t.secret ? createSecretFile(t.secret.kind, t.secret.content) : undefined;
    try {
      await runDumpProcess({ label: t.label, command: t.binary, args: t.args(cred?.path), env: t.env?.(cred?.path), signal: ctx.signal, out });
    } finally {
      cred?.remove();
    }
    await finish(out, target);
  } catch (err) {
    if (out !== target) out.destroy();
    throw classifyToolError(err, ctx.job.name);
  }
  return verdict(t);
}

/** Waits until the observing wrapper has passed everything on to the real output (which stays open). */
async function finish(out: Writable, target: Writable): Promise<void> {
  if (out === target) return;
  await new Promise<void>((resolve, reject) => {
    out.once('finish', resolve);
    out.once('error', reject);
    out.end();
  });
}

function verdict(t: ToolDump): DumpInfo {
  const missing = [`per-table row counts (${t.label}'s output is stored as it is, not parsed)`];
  if (!t.endCheck) return { missing: [...missing, `an end marker (${t.unchecked ?? 'none in this format'})`] };
  const problem = t.endCheck.verdict();
  if (problem) throw new OnedumpError(`${t.label} exited 0 but its output ${problem}: the dump is incomplete, so nothing was stored.`);
  const facts = t.endCheck.facts();
  return { endMarker: t.endCheck.marker, server: facts.server, databases: facts.databases, missing, details: { complete: t.endCheck.marker } };
}
