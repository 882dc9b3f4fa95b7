export interface DestinationResult {
  name: string;
  location: string;
  ok: boolean;
  bytes?: number;
  error?: string;
}

export interface JobResult {
  job: string;
  ok: boolean;
  /** Bytes written (after compression). */
  bytes: number;
  durationMs: number;
  sha256?: string;
  fileName?: string;
  destinations: DestinationResult[];
  error?: string;
  startedAt: string;
  finishedAt: string;
  /** For a job whose binlogs are known (`binlogs:`): what it can be restored to after this run (see `onedump status`). */
  recoverable?: { earliest?: string; latest?: string; windows: number; gaps: number; problems: string[] };
  /** Set when the job did not run: another run of it held its lock (`error` says who). Not a failure of the job. */
  skipped?: 'locked';
}

/** A restore drill's outcome (`onedump verify`, or the daemon's `verify.schedule`), as notifiers receive it. */
export interface VerifyEventResult {
  ok: boolean;
  /** Where the backup is (no credentials). */
  backup: string;
  durationMs: number;
  /** The time the restore itself took (the measured RTO). */
  restoreMs?: number;
  target?: string;
  differences: string[];
}

export type JobEvent =
  | { type: 'start'; job: string; at: string }
  | { type: 'progress'; job: string; bytes: number; rate: number; at: string }
  | { type: 'success'; job: string; result: JobResult; at: string }
  | { type: 'failure'; job: string; result: JobResult; at: string }
  | { type: 'summary'; results: JobResult[]; at: string }
  | { type: 'verify'; job: string; result: VerifyEventResult; at: string };

export interface Notifier {
  readonly kind: string;
  notify(event: JobEvent): Promise<void>;
}
