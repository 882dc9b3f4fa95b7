import { Command, Option } from 'commander';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../util/logger.js';
import { errorMessage, exitCodeOf, ConfigError, UsageError } from '../util/errors.js';
import { loadConfig, MAX_CONFIG_BYTES, type LoadedConfig } from '../config/load.js';
import { storageFromUrl } from '../storage/registry.js';
import { silentLogger } from '../util/logger.js';

export interface GlobalOptions {
  config?: string;
  file?: string;
  logLevel?: LogLevel;
  logFormat?: 'pretty' | 'json';
  verbose?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/**
 * The flags every command accepts. The root program uses positional options (so `sync sftp -s` is not mistaken
 * for a root flag), so each subcommand declares the global flags again; optsWithGlobals() merges them.
 */
export function addGlobalOptions(cmd: Command, opts: { config?: boolean; goBooleans?: boolean } = {}): Command {
  if (opts.config !== false) {
    cmd.option('-c, --config <file>', 'config file (YAML); also ONEDUMP_CONFIG; s3://bucket/key loads it from S3');
    cmd.addOption(new Option('-f, --file <file>', 'same as --config (the Go tool\'s flag)'));
  }
  cmd
    .addOption(new Option('--log-level <level>', 'log level (also ONEDUMP_LOG_LEVEL)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'log format (pretty on a TTY, json otherwise)').choices(['pretty', 'json']));
  cmd.option('-v, --verbose', 'same as --log-level debug');
  // Go-tool commands: a pflag boolean also takes a value (`--dry-run=true`).
  if (opts.goBooleans) cmd.option('--dry-run [bool]', 'validate and print the plan; touch no database and no storage (also --dry-run=true)', pflagBool('--dry-run'));
  else cmd.option('--dry-run', 'validate and print the plan; touch no database and no storage');
  cmd.option('--json', 'print a machine-readable result on stdout');
  return cmd;
}

/** A Go (pflag) boolean flag's value: alone it is true; `=true/false/1/0/t/f` as strconv.ParseBool reads them. */
export function pflagBool(name: string) {
  return (v: string | boolean | undefined): boolean => {
    if (v === undefined || v === true) return true;
    const s = String(v);
    if (['true', 'TRUE', 'True', '1', 't', 'T'].includes(s)) return true;
    if (['false', 'FALSE', 'False', '0', 'f', 'F'].includes(s)) return false;
    throw new UsageError(`${name} takes true or false (got "${v}").`);
  };
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function loggerFor(g: GlobalOptions): Logger {
  const envLevel = process.env.ONEDUMP_LOG_LEVEL as LogLevel | undefined;
  const level: LogLevel = g.logLevel ?? (g.verbose ? 'debug' : envLevel && LOG_LEVELS.includes(envLevel) ? envLevel : 'info');
  return createLogger({ level, format: g.logFormat });
}

/** The config path from -c/-f or ONEDUMP_CONFIG. */
export function configPath(g: GlobalOptions, required = true): string | undefined {
  const p = g.file ?? g.config ?? process.env.ONEDUMP_CONFIG;
  if (!p && required) throw new UsageError('no config file given: pass -c FILE (or set ONEDUMP_CONFIG).');
  return p;
}

/** Loads a config from disk or from a storage URL (s3://bucket/key). */
export async function loadConfigFor(path: string): Promise<LoadedConfig> {
  return loadConfig(path, {
    fetchRemote: async (url) => {
      const { storage, key } = storageFromUrl(url, { log: silentLogger });
      try {
        const body = await storage.get(key);
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const c of body) {
          size += (c as Buffer).length;
          if (size > MAX_CONFIG_BYTES) throw new Error('the config object is over 4 MiB');
          chunks.push(c as Buffer);
        }
        return Buffer.concat(chunks); // decoded by the loader, which also reads UTF-16 with a byte-order mark
      } finally {
        await storage.close?.();
      }
    },
  });
}

/** Prints an error as one sentence on stderr (stack only at debug) and sets the exit code. */
export function reportError(err: unknown, g: GlobalOptions): void {
  const msg = errorMessage(err);
  const code = exitCodeOf(err);
  if (g.json) {
    process.stdout.write(JSON.stringify({ ok: false, error: msg, problems: err instanceof ConfigError ? err.problems : undefined }) + '\n');
  }
  process.stderr.write(`onedump: ${msg.endsWith('.') || msg.includes('\n') ? msg : `${msg}.`}\n`);
  if ((g.logLevel === 'debug' || g.logLevel === 'trace' || g.verbose) && err instanceof Error && err.stack) {
    process.stderr.write(errorMessage(Object.assign(new Error(err.stack))) + '\n');
  }
  process.exitCode = code;
}

/** Wraps a command action: errors become one sentence and an exit code; nothing escapes as a stack trace. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void | number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const cmd = args[args.length - 1] as Command;
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      reportError(err, globals(cmd));
    }
  };
}

export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}
