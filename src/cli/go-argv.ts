import type { Command, Option } from 'commander';
import { didYouMean } from '../config/issues.js';
import { UsageError } from '../util/errors.js';

/** strconv.ParseBool, which the Go tool's flag library (spf13/pflag) uses for `--flag=VALUE` on a boolean flag. */
const GO_FLAG_BOOLS: Readonly<Record<string, boolean>> = {
  '1': true,
  t: true,
  T: true,
  true: true,
  TRUE: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  false: false,
  FALSE: false,
  False: false,
};

function findOption(cmd: Command, flag: string): Option | undefined {
  return cmd.options.find((o) => o.short === flag || o.long === flag);
}

const takesValue = (o: Option) => o.required || o.optional;
const hasAction = (cmd: Command) => Boolean((cmd as unknown as { _actionHandler?: unknown })._actionHandler);
const looksLikeOption = (a: string | undefined) => a !== undefined && a.startsWith('-') && a !== '-';

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Rewrites the command line so commander reads it the way the Go tool's cobra/pflag did, and names an unknown
 * command before commander can misread it:
 *
 * - `-x=VALUE` is `-x VALUE` for every short flag that takes a value (pflag strips the `=`; commander would keep it,
 *   so `download s3 -b=bkt` named a bucket "=bkt");
 * - a boolean flag written `-x=true|false` or `--flag=true|false` (any strconv.ParseBool spelling) is the flag, or
 *   its `--no-` form, or nothing;
 * - an unknown command is an error that names it with a did-you-mean, even with `--help` after it (commander
 *   printed the top-level help and exit 0 for `onedump status --help`); `onedump help CMD` is `CMD --help`.
 *
 * The walk follows commander's own rules: options before a subcommand belong to the command they follow
 * (positional options), a value-taking flag consumes the next argument, the first operand of a command with
 * subcommands selects one.
 */
export function normalizeArgs(program: Command, args: readonly string[]): string[] {
  const out: string[] = [];
  let cmd = program;
  let levelStart = 0; // where the current command's own arguments start in `out`
  let operandSeen = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') {
      out.push(...args.slice(i));
      break;
    }
    if (looksLikeOption(a)) {
      const long = a.startsWith('--');
      const eq = a.indexOf('=');
      const flag = long ? (eq > 2 ? a.slice(0, eq) : a) : a.slice(0, 2);
      const opt = findOption(cmd, flag);
      const attached = long ? (eq > 2 ? a.slice(eq + 1) : undefined) : a.length > 2 ? a.slice(2) : undefined;
      if (!opt && long && attached !== undefined) {
        // Only `--no-x` is declared (x defaults on): `--x=false` is `--no-x`, `--x=true` the default.
        const negation = findOption(cmd, flag.replace(/^--/, '--no-'));
        if (negation?.negate && !takesValue(negation)) {
          out.push(
            ...booleanFlag(
              cmd,
              negation,
              flag,
              GO_FLAG_BOOLS[attached] === undefined ? attached : String(!GO_FLAG_BOOLS[attached]),
              out,
              levelStart,
            ),
          );
          continue;
        }
      }
      if (!opt) {
        // Unknown here (or --help): commander reports it or prints help, and reads nothing after it as a command.
        out.push(...args.slice(i));
        break;
      }
      if (!takesValue(opt)) {
        if (attached === undefined) out.push(a);
        else if (long || attached.startsWith('='))
          out.push(...booleanFlag(cmd, opt, flag, long ? attached : attached.slice(1), out, levelStart));
        else out.push(a); // -vx: several short flags at once, commander's business
        continue;
      }
      if (attached !== undefined) {
        if (long)
          out.push(a); // --flag=VALUE: commander reads it
        else if (attached.startsWith('=')) {
          const value = attached.slice(1);
          // A required value is taken whatever it looks like; an optional one only when attached.
          out.push(...(opt.required ? [flag, value] : value === '' ? [flag] : [`${flag}${value}`]));
        } else out.push(a);
        continue;
      }
      out.push(a);
      if (opt.required) {
        if (i + 1 < args.length) out.push(args[++i] as string);
      } else if (!looksLikeOption(args[i + 1]) && i + 1 < args.length) {
        out.push(args[++i] as string);
      }
      if (opt.variadic) while (i + 1 < args.length && !looksLikeOption(args[i + 1]) && args[i + 1] !== '--') out.push(args[++i] as string);
      continue;
    }
    if (!operandSeen) {
      const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
      if (sub) {
        out.push(a);
        cmd = sub;
        levelStart = out.length;
        continue;
      }
      const selects = cmd.commands.length > 0 && (cmd === program || !hasAction(cmd));
      if (selects && a === 'help') {
        // `onedump help [CMD...]`, `onedump config help validate`: CMD --help (the root has an action, for the Go
        // form `onedump -f FILE`, so commander gives it no help command; this also names an unknown CMD).
        return normalizeArgs(program, [...out, ...args.slice(i + 1), '--help']);
      }
      if (selects) throw unknownCommand(cmd, a);
      operandSeen = true;
    }
    out.push(a);
  }
  return out;
}

function booleanFlag(cmd: Command, opt: Option, flag: string, value: string, out: string[], levelStart: number): string[] {
  const on = GO_FLAG_BOOLS[value];
  if (on === undefined) throw new UsageError(`${flag}=${value}: ${flag} is a switch; give it no value, or =true or =false.`);
  const positive = opt.negate ? findOption(cmd, (opt.long ?? '').replace(/^--no-/, '--')) : opt;
  const negative = opt.negate ? opt : opt.long ? findOption(cmd, opt.long.replace(/^--/, '--no-')) : undefined;
  const wantOn = opt.negate ? !on : on;
  const use = wantOn ? positive : negative;
  if (use) return [use.long ?? use.short ?? flag];
  // No flag for the wanted state: the default, so an earlier occurrence of the flag on this command is undone.
  const forms = new Set([opt.short, opt.long].filter(Boolean));
  for (let k = out.length - 1; k >= levelStart; k--) if (forms.has(out[k])) out.splice(k, 1);
  return [];
}

function unknownCommand(cmd: Command, name: string): UsageError {
  const visible = (c: Command) => c.commands.filter((sub) => !(sub as unknown as { _hidden?: boolean })._hidden);
  const known = visible(cmd);
  const prefix = commandPath(cmd).replace(/^\S+ ?/, ''); // without the program's name
  const full = (n: string) => (prefix ? `${prefix} ${n}` : n);
  let hint = didYouMean(
    name,
    known.flatMap((c) => [c.name(), ...c.aliases()]),
  );
  if (hint) hint = full(hint);
  else {
    // `onedump status` is `onedump binlog status`: one level down, the same name or a near one.
    const deeper = known.flatMap((c) =>
      visible(c).flatMap((s) => [s.name(), ...s.aliases()].map((n) => [n, `${full(c.name())} ${n}`] as const)),
    );
    const near = didYouMean(
      name,
      deeper.map(([n]) => n),
    );
    hint = deeper.find(([n]) => n === near)?.[1];
  }
  const shown = JSON.stringify(full(name.length > 40 ? `${name.slice(0, 40)}…` : name));
  const help = `${commandPath(cmd)} --help`;
  return new UsageError(
    hint
      ? `unknown command ${shown} (did you mean "${hint}"?); run ${help} for the list.`
      : `unknown command ${shown}; the commands${prefix ? ` of ${prefix}` : ''} are ${known.map((c) => c.name()).join(', ')} (run ${help}).`,
  );
}
