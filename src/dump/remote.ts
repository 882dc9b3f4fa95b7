import type { Writable } from 'node:stream';
import type { JobConfig } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { connectSsh, shellQuote, sshTarget } from '../ssh/client.js';
import { OnedumpError, PermanentError } from '../util/errors.js';
import { redactText } from '../util/redact.js';

/**
 * The remote side of a dump over SSH exec: a POSIX sh script that reads the credential file's contents from stdin
 * into a 0600 temp file (umask 077), runs the tool with it, and removes it on any exit. The secret travels only
 * on the channel's stdin, never on a command line (remote `ps` shows the script, which holds no secret).
 *
 * `toolArgs` may contain the placeholder "{CRED}" for the credential file path; `env` are non-secret variables.
 */
export function remoteDumpCommand(tool: string, toolArgs: string[], env: Record<string, string> = {}): string {
  const word = (a: string) => (a.includes('{CRED}') ? a.split('{CRED}').map((p) => (p ? shellQuote(p) : '')).join('"$f"') : shellQuote(a));
  const args = toolArgs.map(word).join(' ');
  const envs = Object.entries(env)
    .map(([k, v]) => `${k}=${word(v)}`)
    .join(' ');
  const script = [
    'umask 077',
    'f=$(mktemp "${TMPDIR:-/tmp}/onedump-cred.XXXXXX") || exit 97',
    `trap 'rm -f "$f"' EXIT`,
    `trap 'exit 143' INT TERM HUP PIPE`,
    'cat > "$f" || exit 97',
    `${envs ? envs + ' ' : ''}${shellQuote(tool)} ${args}`,
  ].join('; ');
  return `sh -c ${shellQuote(script)}`;
}

/** Runs a dump tool on the job's SSH host, streaming its stdout into `out`. */
export async function runRemoteDump(o: {
  job: JobConfig;
  log: Logger;
  label: string;
  tool: string;
  command: string;
  secret: string;
  out: Writable;
  signal: AbortSignal;
}): Promise<void> {
  const session = await connectSsh(sshTarget(o.job, ''), { signal: o.signal, onNotice: (m) => o.log.warn(m) });
  try {
    const r = await session.run(o.command, { stdin: o.secret, stdout: o.out, signal: o.signal });
    if (r.code === 0) return;
    const detail = redactText(r.stderr.trim().split('\n').slice(-5).join(' ').trim());
    if (r.code === 127) throw new PermanentError(`${o.label} was not found at "${o.tool}" on the SSH host ${session.label}; install it there or set driverpath.`);
    if (r.code === 97) throw new PermanentError(`${o.label}: could not create a private temp file on the SSH host ${session.label} (${detail || 'mktemp failed'}).`);
    throw new OnedumpError(`${o.label} on ${session.label} exited with ${r.code === null ? `signal ${r.signal}` : `code ${r.code}`}${detail ? `: ${detail}` : ''}`);
  } finally {
    await session.close();
  }
}
