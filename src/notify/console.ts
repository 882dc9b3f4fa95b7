import type { Logger } from '../util/logger.js';
import { formatBytes, formatDuration } from '../util/duration.js';
import type { JobEvent, Notifier } from './types.js';

/** Reports job events to the log (stderr). Always on. */
export class ConsoleNotifier implements Notifier {
  readonly kind = 'console';
  constructor(private readonly log: Logger) {}

  async notify(event: JobEvent): Promise<void> {
    switch (event.type) {
      case 'start':
        this.log.info({ job: event.job }, `job "${event.job}" started`);
        break;
      case 'progress':
        this.log.info({ job: event.job, bytes: event.bytes }, `job "${event.job}": ${formatBytes(event.bytes)} at ${formatBytes(event.rate)}/s`);
        break;
      case 'success': {
        const r = event.result;
        this.log.info(
          { job: r.job, bytes: r.bytes, sha256: r.sha256, destinations: r.destinations.map((d) => d.location) },
          `job "${r.job}" succeeded: ${formatBytes(r.bytes)} in ${formatDuration(r.durationMs)} to ${r.destinations.length} destination(s)`,
        );
        break;
      }
      case 'failure': {
        const r = event.result;
        this.log.error({ job: r.job, destinations: r.destinations }, `job "${r.job}" failed: ${r.error}`);
        break;
      }
      case 'verify': {
        const r = event.result;
        if (r.ok) this.log.info({ job: event.job, backup: r.backup, restoreMs: r.restoreMs }, `job "${event.job}": restore drill of ${r.backup} verified in ${formatDuration(r.durationMs)}`);
        else this.log.error({ job: event.job, backup: r.backup, differences: r.differences }, `job "${event.job}": restore drill of ${r.backup} FAILED: ${r.differences.join('; ')}`);
        break;
      }
      case 'summary':
        break;
    }
  }
}
