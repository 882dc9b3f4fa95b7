import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { runCli } from '../../testutils/cli.js';
import { completionScript } from '../../src/cli/completion.js';

// The completion scripts of `onedump completion bash|zsh|fish`, loaded into the real shells and asked for
// completions as a user's TAB would: bash through its completion function and COMPREPLY, fish with `complete -C`,
// zsh through compsys in an interactive shell on a pseudo-terminal (zpty), with compadd printing what it is given.
// zsh and fish come from scripts/install-test-deps.sh; a missing shell fails, never skips.

let dir: string;
const scripts: Record<string, string> = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'onedump-completion-'));
  for (const shell of ['bash', 'zsh', 'fish']) {
    const r = await runCli(['completion', shell]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    scripts[shell] = join(dir, `onedump.${shell}`);
    writeFileSync(scripts[shell]!, r.stdout);
  }
  // Files and folders for the file-name cases.
  mkdirSync(join(dir, 'work', 'confs'), { recursive: true });
  writeFileSync(join(dir, 'work', 'jobs.yml'), 'jobs: []\n');
  writeFileSync(join(dir, 'work', 'jobs-old.yml'), 'jobs: []\n');
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** COMPREPLY of the bash completion function for the words of a command line (the last one is being completed). */
function bash(script: string, ...words: string[]): string[] {
  const harness = `source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMP_LINE="$*"; COMP_POINT=\${#COMP_LINE}
_onedump
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const out = execFileSync('bash', ['--norc', '--noprofile', '-c', harness, 'bash', script, ...words], {
    cwd: join(dir, 'work'),
    encoding: 'utf8',
  });
  return out.split('\n').filter(Boolean).sort();
}

function fish(line: string): string[] {
  const out = execFileSync('fish', ['--no-config', '-c', 'source $argv[1]; complete -C $argv[2]', scripts.fish!, line], {
    cwd: join(dir, 'work'),
    encoding: 'utf8',
  });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[0]!)
    .sort();
}

// An interactive zsh on a pty: compinit, the script, compadd wrapped to print each match; then TAB after the line.
const ZSH_CAPTURE = `zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PROMPT= RPROMPT=; autoload -Uz compinit; compinit -u -D; source \${(q)1}; cd \${(q)3}"
zpty -w z 'compadd () { builtin compadd -O __hits "$@"; local h; for h in $__hits; do print -r -- "<<$h>>"; done; builtin compadd "$@"; }'
zpty -w z 'print __READY__'
zpty -r z line '*__READY__*'
zpty -r z line '*__READY__*'
zpty -n -w z "$2"$'\\t'
sleep 1
zpty -w z $'\\C-c'
zpty -w z 'print __DONE__'
out=''
while zpty -r -t z line; do out+="$line"; [[ $out == *$'\\n'__DONE__* ]] && break; done
zpty -d z
print -r -- "$out" | grep -ao '<<[^>]*>>' | sed 's/^<<//;s/>>$//' | sort -u`;

function zsh(line: string): string[] {
  const r = spawnSync('zsh', ['-f', '-c', ZSH_CAPTURE, 'zsh', scripts.zsh!, line, join(dir, 'work')], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(r.error).toBeUndefined();
  return r.stdout.split('\n').filter(Boolean).sort();
}

describe('onedump completion bash', () => {
  it('completes commands, subcommands and their aliases', () => {
    expect(bash(scripts.bash!, 'onedump', 'co')).toEqual(['completion', 'config']);
    expect(bash(scripts.bash!, 'onedump', 'binlog', '')).toEqual(['events', 'query', 'restore', 'status', 'sync', 'sync-s3']);
    expect(bash(scripts.bash!, 'onedump', 'config', 'v')).toEqual(['validate']);
    // An alias leads to its command's flags.
    expect(bash(scripts.bash!, 'onedump', 'binlog', 'status', '--j')).toEqual(['--job', '--json']);
  });

  it("completes a command's own flags, not another's", () => {
    expect(bash(scripts.bash!, 'onedump', 'dump', '--dr')).toEqual(['--driver', '--dry-run']);
    expect(bash(scripts.bash!, 'onedump', 'slow', '--so')).toEqual(['--sort']);
    expect(bash(scripts.bash!, 'onedump', 'dump', '--so')).toEqual([]);
    // Flags that take a value are skipped with their value on the way to the command.
    expect(bash(scripts.bash!, 'onedump', 'export', '-c', 'kubernetes', 'systemd', '--ou')).toEqual([]);
    expect(bash(scripts.bash!, 'onedump', 'export', 'systemd', '-c', 'jobs.yml', '--ou')).toEqual(['--out']);
  });

  it('completes the choices of a flag, as the next word or after =', () => {
    expect(bash(scripts.bash!, 'onedump', 'dump', '--driver', '')).toEqual(['mysql', 'mysqldump', 'pgdump', 'postgresql']);
    expect(bash(scripts.bash!, 'onedump', 'dump', '--compression', '')).toEqual(['gzip', 'none', 'zstd']);
    // bash splits --flag=VALUE at '=' (COMP_WORDBREAKS): the words are "--log-level", "=", "d".
    expect(bash(scripts.bash!, 'onedump', 'dump', '--log-level', '=', 'd')).toEqual(['debug']);
    expect(bash(scripts.bash!, 'onedump', 'dump', '--log-level', '=')).toEqual(['debug', 'error', 'info', 'trace', 'warn']);
    expect(bash(scripts.bash!, 'onedump', 'slow', '--sort', 'p')).toEqual(['p95']);
  });

  it('completes file names for -c/--config and path operands, folders for <dir> flags', () => {
    expect(bash(scripts.bash!, 'onedump', 'config', 'validate', '-c', 'jo')).toEqual(['jobs-old.yml', 'jobs.yml']);
    expect(bash(scripts.bash!, 'onedump', 'dump', '--config', 'jobs.')).toEqual(['jobs.yml']);
    expect(bash(scripts.bash!, 'onedump', 'slow', 'jobs-')).toEqual(['jobs-old.yml']);
    expect(bash(scripts.bash!, 'onedump', 'dump', '--lock-dir', '')).toEqual(['confs']);
    // `sync` takes paths and has the `sftp` subcommand: both.
    expect(bash(scripts.bash!, 'onedump', 'sync', '')).toEqual(['confs', 'jobs-old.yml', 'jobs.yml', 'sftp']);
    // A command without operands completes no file names.
    expect(bash(scripts.bash!, 'onedump', 'status', '')).toEqual([]);
  });

  it('follows the commander tree: a flag added to a program is completed with its choices', () => {
    const program = new Command('onedump');
    program.command('frob').addOption(new Option('--speed <speed>', 'how fast').choices(['slow', 'fast']));
    const script = join(dir, 'frob.bash');
    writeFileSync(script, completionScript(program, 'bash'));
    expect(bash(script, 'onedump', 'frob', '--sp')).toEqual(['--speed']);
    expect(bash(script, 'onedump', 'frob', '--speed', 'f')).toEqual(['fast']);
  });
});

describe('onedump completion fish', () => {
  it('passes fish -n and completes commands, flags, choices and files', () => {
    expect(spawnSync('fish', ['-n', scripts.fish!]).status).toBe(0);
    expect(fish('onedump co')).toEqual(['completion', 'config']);
    expect(fish('onedump binlog status --j')).toEqual(['--job', '--json']);
    expect(fish('onedump dump --driver ')).toEqual(['mysql', 'mysqldump', 'pgdump', 'postgresql']);
    expect(fish('onedump dump --compression=')).toEqual(['--compression=gzip', '--compression=none', '--compression=zstd']);
    expect(fish('onedump config validate -c jo')).toEqual(['jobs-old.yml', 'jobs.yml']);
    expect(fish('onedump status ')).toEqual([]);
  });
});

describe('onedump completion zsh', () => {
  it('passes zsh -n and completes through compsys', () => {
    expect(spawnSync('zsh', ['-n', scripts.zsh!]).status).toBe(0);
    expect(zsh('onedump co')).toEqual(['completion', 'config']);
    expect(zsh('onedump binlog status --j')).toEqual(['--job', '--json']);
    expect(zsh('onedump dump --compression=')).toEqual(['gzip', 'none', 'zstd']);
    expect(zsh('onedump config validate -c jo')).toEqual(['jobs-old.yml', 'jobs.yml']);
  }, 60_000);
});

describe('onedump completion: bad input', () => {
  it('an unknown shell is a usage error (exit 2)', async () => {
    const r = await runCli(['completion', 'tcsh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Allowed choices are bash, zsh, fish');
    expect(r.stdout).toBe('');
  });
});
