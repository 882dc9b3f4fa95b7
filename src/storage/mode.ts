import { z } from 'zod';
import { described } from '../config/fields.js';
import { UsageError } from '../util/errors.js';

/**
 * Permission bits of a file a storage creates: a number is set exactly (chmod after the create, so the umask cannot
 * reduce it); 'umask' is 0666 less the umask of whoever creates the file (this process for local files, the
 * sftp-server process for SFTP), as the Go tool's os.Create and SFTP client, touch, or a shell's `>`.
 */
export type FileMode = number | 'umask';

/** Backups hold a database's data (password hashes included): owner only, unless the storage says otherwise. */
export const BACKUP_MODE = 0o600;

const MODE_RE = /^0?[0-7]{3}$/;

/** Why an octal mode is refused, or undefined when it is fine. */
function modeProblem(text: string): string | undefined {
  if (!MODE_RE.test(text)) return 'must be an octal mode of three digits such as "0640"';
  const owner = Number(text.slice(-3, -2));
  // onedump reads its own files back as the owner (fsync, sha256sum on the server, --append resume, retention).
  if ((owner & 6) !== 6) return 'must let the owner read and write (first digit 6 or 7, e.g. "0640")';
  return undefined;
}

/** `--mode 0640` on the command line: the bits, or one sentence and exit 2. */
export function parseModeFlag(flag: string) {
  return (text: string): number => {
    const problem = modeProblem(text);
    if (problem) throw new UsageError(`${flag} ${problem} (got "${text}").`);
    return parseInt(text, 8);
  };
}

/** The mode of a folder created for files of `mode`: search (x) wherever the file mode gives read (0640 → 0750). */
export function folderModeFor(mode: number): number {
  return mode | ((mode & 0o444) >> 2);
}

/** The `mode:` key of the local and sftp storages, as a quoted octal string; the parsed value is the bits. */
export function modeField(description: string) {
  return described(
    // A string only: YAML reads an unquoted 0640 as the number 640 (YAML 1.2) or 416 (YAML 1.1); numbers are refused
    // ("expected string") rather than guessed at.
    z
      .string()
      .superRefine((v, ctx) => {
        const problem = modeProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    { description, example: '0640' },
  );
}

/** The bits of a validated `mode:` value. */
export function modeBits(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseInt(text, 8);
}

/** Renders bits as the octal string users write ("0640"). */
export function formatMode(mode: number): string {
  return '0' + (mode & 0o777).toString(8).padStart(3, '0');
}
