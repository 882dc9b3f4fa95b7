import { describe, expect, it } from 'vitest';
import type { Command, Option } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { normalizeArgs } from '../../src/cli/go-argv.js';
import { UsageError } from '../../src/util/errors.js';

// Every command of the real program, with the words that reach it (`binlog sync-s3`).
function commands(cmd: Command, path: string[] = []): Array<[string[], Command]> {
  return [[path, cmd], ...cmd.commands.flatMap((c) => commands(c, [...path, c.name()]))];
}
const all = commands(buildProgram());
const withValue = all.flatMap(([path, cmd]) => cmd.options.filter((o: Option) => o.short && o.required).map((o) => [path.join(' ') || '(root)', path, o.short!] as const));
const switches = all.flatMap(([path, cmd]) => cmd.options.filter((o: Option) => o.short && !o.required && !o.optional).map((o) => [path.join(' ') || '(root)', path, o] as const));

describe('normalizeArgs: the Go tool\'s pflag forms, for every flag of every command', () => {
  it('finds flags to check (the test is not empty)', () => {
    expect(all.length).toBeGreaterThan(15);
    expect(withValue.length).toBeGreaterThan(20);
    expect(switches.length).toBeGreaterThan(5);
  });

  const values = ['jobs.yml', '*slow.log', '=bkt', 'a=b', '-1', '', 'with space', 's3://b/k?region=x&y=z'];
  it.each(withValue)('%s %s=VALUE is %s VALUE', (_name, path, short) => {
    for (const v of values) expect(normalizeArgs(buildProgram(), [...path, `${short}=${v}`])).toEqual([...path, short, v]);
    // Without `=` nothing changes: attached (-pGLOB) and separate forms are commander's own.
    expect(normalizeArgs(buildProgram(), [...path, `${short}x`])).toEqual([...path, `${short}x`]);
    expect(normalizeArgs(buildProgram(), [...path, short, '=x'])).toEqual([...path, short, '=x']);
  });

  it.each(switches)('%s: a switch written -x=BOOL is the switch or nothing (%s)', (_name, path, o) => {
    const on = o.negate ? undefined : (o.long ?? o.short);
    for (const t of ['true', 'TRUE', 'True', 't', 'T', '1']) expect(normalizeArgs(buildProgram(), [...path, `${o.short}=${t}`])).toEqual([...path, ...(on ? [on] : [])]);
    for (const f of ['false', 'FALSE', 'False', 'f', 'F', '0']) {
      // false undoes an earlier occurrence of the same switch
      expect(normalizeArgs(buildProgram(), [...path, o.short!, `${o.short}=${f}`])).toEqual(path);
    }
    expect(() => normalizeArgs(buildProgram(), [...path, `${o.short}=yes`])).toThrow(UsageError);
  });

  it('long switches: --checksum=true|false, with a --no- form when there is one', () => {
    const p = buildProgram();
    expect(normalizeArgs(p, ['sync', 'a', 'b', '--checksum=true'])).toEqual(['sync', 'a', 'b', '--checksum']);
    expect(normalizeArgs(p, ['sync', 'a', 'b', '--checksum', '--checksum=0'])).toEqual(['sync', 'a', 'b']);
    // binlog sync's and binlog restore's switches take an optional [bool] value themselves (pflag's spellings, read
    // by their own parser: test/binlog/sync-go.test.ts, test/binlog/cli.test.ts), so they pass through unchanged.
    expect(normalizeArgs(p, ['binlog', 'sync', '--checksum=1', '--save-log=F'])).toEqual(['binlog', 'sync', '--checksum=1', '--save-log=F']);
    expect(normalizeArgs(p, ['binlog', 'events', 'f', '--verify=false'])).toEqual(['binlog', 'events', 'f', '--no-verify']);
    // docs/binlog/restore.md of the Go tool
    expect(normalizeArgs(p, ['binlog', 'restore', '--dir="/b"', '--dump-file=d.sql', '--dry-run=true'])).toEqual(['binlog', 'restore', '--dir="/b"', '--dump-file=d.sql', '--dry-run=true']);
    // Flags with a [bool] value (the Go tool's sync-s3, slow -m) are commander's to read.
    expect(normalizeArgs(p, ['binlog', 'sync-s3', '--checksum=true'])).toEqual(['binlog', 'sync-s3', '--checksum=true']);
    expect(normalizeArgs(p, ['slow', 'x', '-m=false'])).toEqual(['slow', 'x', '-mfalse']);
  });

  it('follows commander\'s walk: values are not commands, options belong to the command they follow', () => {
    const p = buildProgram();
    // `-c dump`: a value, not the dump command; the Go root form has no command at all
    expect(normalizeArgs(p, ['-f=jobs.yml', '-c', '1h'])).toEqual(['-f', 'jobs.yml', '-c', '1h']);
    expect(normalizeArgs(p, ['-c', 'dump'])).toEqual(['-c', 'dump']);
    expect(normalizeArgs(p, ['--', 'nosuch'])).toEqual(['--', 'nosuch']);
    // after the first argument of a command that takes arguments, words are arguments
    expect(normalizeArgs(p, ['sync', 'sftp-like', 'sftp'])).toEqual(['sync', 'sftp-like', 'sftp']);
    expect(normalizeArgs(p, ['download', 's3', '-b=bkt', '-p=pre', '-d=dir'])).toEqual(['download', 's3', '-b', 'bkt', '-p', 'pre', '-d', 'dir']);
    // an unknown option stops the walk: commander names it
    expect(normalizeArgs(p, ['--bogus', 'x'])).toEqual(['--bogus', 'x']);
    expect(() => normalizeArgs(p, ['-v', 'nosuch'])).toThrow('unknown command "nosuch"');
    expect(normalizeArgs(p, ['help', 'binlog', 'restore'])).toEqual(['binlog', 'restore', '--help']);
    expect(normalizeArgs(p, ['config', 'help', 'validate'])).toEqual(['config', 'validate', '--help']);
    expect(normalizeArgs(p, ['config', 'help'])).toEqual(['config', '--help']);
    expect(() => normalizeArgs(p, ['help', 'nosuch'])).toThrow('unknown command "nosuch"');
  });
});
