import { parseDsn } from '../config/dsn.js';
import { registerSecret } from '../util/redact.js';

const MASK = 'xxxxx';

/**
 * Passwords given on the command line (`--dsn user:pw@…`, the Go tool's `-s/--aws-secret`) can be read by every
 * user of the machine from the process list. Like the mysql client, onedump overwrites them there as soon as it
 * starts (process.title rewrites the command line on Linux and macOS), registers them for redaction, and returns a
 * warning to print: only `--dsn -` (from the environment) or a config file keep them out of the process list from
 * the first instant.
 */
export function hideArgvSecrets(argv: string[]): string | undefined {
  const args = argv.slice(2);
  // The Go tool's root form (`onedump -f KEY -b BUCKET -s SECRET -t TOKEN`): no subcommand, so -s/-t are AWS secrets.
  const rootForm = args[0]?.startsWith('-') ?? false;
  const secretFlags = new Set(['--aws-secret', '--aws-session-token', ...(rootForm ? ['-s', '-t'] : [])]);
  let found = false;
  const flagsSeen: string[] = [];
  const shown = args.map((arg, i) => {
    const flag = args[i - 1];
    if (flag !== undefined && secretFlags.has(flag) && arg) {
      found = true;
      flagsSeen.push(flag);
      registerSecret(arg);
      return MASK;
    }
    const eq = /^(--aws-secret|--aws-session-token)=(.+)$/.exec(arg);
    if (eq) {
      found = true;
      flagsSeen.push(eq[1]!);
      registerSecret(eq[2]);
      return `${eq[1]}=${MASK}`;
    }
    const push = args[i - 1] === '--pushgateway' ? { prefix: '', url: arg } : arg.startsWith('--pushgateway=') ? { prefix: '--pushgateway=', url: arg.slice(14) } : undefined;
    if (push) {
      let password = '';
      try {
        password = decodeURIComponent(new URL(push.url).password);
      } catch {
        return arg; // not a URL: refused later
      }
      if (!password) return arg;
      found = true;
      flagsSeen.push('--pushgateway');
      registerSecret(password);
      return push.prefix + push.url.replace(/^([a-z+]+:\/\/[^:/@]*:)[^@]*@/i, `$1${MASK}@`);
    }
    let value: string | undefined;
    let prefix = '';
    if (args[i - 1] === '--dsn') value = arg;
    else if (arg.startsWith('--dsn=')) {
      prefix = '--dsn=';
      value = arg.slice(prefix.length);
    }
    if (!value || value === '-') return arg;
    let password: string | undefined;
    try {
      password = parseDsn(value).password;
    } catch {
      return arg; // reported later as a bad DSN, with the password already masked in the error text
    }
    if (!password) return arg;
    found = true;
    flagsSeen.push('--dsn');
    registerSecret(password);
    let masked = value;
    for (const form of new Set([password, encodeURIComponent(password)])) masked = masked.split(form).join(MASK);
    return prefix + masked;
  });
  if (!found) return undefined;
  try {
    process.title = ['onedump', ...shown].join(' ');
  } catch {
    /* not supported on this platform: the warning below still tells the user */
  }
  if (flagsSeen.includes('--dsn')) {
    return 'onedump: warning: a password on the command line (--dsn) can be seen by other users of this machine; use --dsn - with the DSN in ONEDUMP_DSN (ONEDUMP_RESTORE_DSN for restore), or a config file.';
  }
  if (flagsSeen.includes('--pushgateway')) {
    return 'onedump: warning: a password on the command line (--pushgateway) can be seen by other users of this machine; use --pushgateway - with the URL in ONEDUMP_PUSHGATEWAY_URL.';
  }
  return `onedump: warning: a secret on the command line (${flagsSeen[0]}) can be seen by other users of this machine; use AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, or the AWS credential chain.`;
}
