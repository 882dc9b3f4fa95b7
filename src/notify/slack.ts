import { z } from 'zod';
import { IncomingWebhook } from '@slack/webhook';
import type { KnownBlock } from '@slack/types';
import { secret } from '../config/fields.js';
import { eventSwitches, wantsEvent } from './options.js';
import { NotifyHttpError } from './http.js';
import { OnedumpError } from '../util/errors.js';
import { formatBytes, formatDuration } from '../util/duration.js';
import type { NotifierBackend } from './backend.js';
import type { JobEvent, JobResult, Notifier } from './types.js';

const slackOptions = z.strictObject({
  incomingwebhook: secret({
    description: 'Slack incoming webhook URL.',
    example: 'https://hooks.slack.com/services/T000/B000/XXXX',
    go: true,
  }),
  ...eventSwitches,
});
export type SlackOptions = z.infer<typeof slackOptions>;

export interface SlackMessage {
  text: string;
  blocks: KnownBlock[];
}

/** Slack mrkdwn escaping: &, < and > are control characters. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** Section and field texts are limited to 3000 / 2000 characters. */
const clip = (s: string, n = 1900) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const code = (s: string) => `\`\`\`${clip(esc(s).replace(/```/g, "'''"))}\`\`\``;

function destinationLines(r: JobResult): string {
  if (!r.destinations.length) return '_none_';
  return clip(
    r.destinations
      .map(
        (d) =>
          `${d.ok ? ':white_check_mark:' : ':x:'} \`${esc(d.name)}\` ${esc(d.location)}${d.ok ? '' : ` — ${esc(d.error ?? 'failed')}`}`,
      )
      .join('\n'),
    2900,
  );
}

function context(text: string): KnownBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text }] };
}

/** The Block Kit message for an event. */
export function slackMessage(event: JobEvent): SlackMessage | undefined {
  switch (event.type) {
    case 'start':
      return {
        text: `Backup job "${event.job}" started`,
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: `:hourglass_flowing_sand: Backup job *${esc(event.job)}* started` } },
          context(`onedump · ${event.at}`),
        ],
      };
    case 'success': {
      const r = event.result;
      return {
        text: `Backup job "${r.job}" succeeded: ${formatBytes(r.bytes)} in ${formatDuration(r.durationMs)}`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: clip(`✅ Backup job "${r.job}" succeeded`, 150) } },
          {
            type: 'section',
            fields: [
              { type: 'mrkdwn', text: `*Size*\n${formatBytes(r.bytes)}` },
              { type: 'mrkdwn', text: `*Duration*\n${formatDuration(r.durationMs)}` },
              { type: 'mrkdwn', text: `*File*\n${esc(r.fileName ?? '-')}` },
              { type: 'mrkdwn', text: `*SHA-256*\n\`${r.sha256 ?? '-'}\`` },
            ],
          },
          { type: 'section', text: { type: 'mrkdwn', text: `*Destinations*\n${destinationLines(r)}` } },
          ...(r.recoverable
            ? [
                {
                  type: 'section' as const,
                  text: {
                    type: 'mrkdwn' as const,
                    text: `*Restorable*\n${r.recoverable.earliest ? `${esc(r.recoverable.earliest)} … ${esc(r.recoverable.latest ?? '?')}` : 'nothing'}${r.recoverable.gaps ? ` — ${r.recoverable.gaps} binlog gap(s): ${esc(clip(r.recoverable.problems.join('; '), 500))}` : ''}`,
                  },
                },
              ]
            : []),
          context(`onedump · started ${r.startedAt} · finished ${r.finishedAt}`),
        ],
      };
    }
    case 'failure': {
      const r = event.result;
      const failed = r.destinations.filter((d) => !d.ok);
      return {
        text: `Backup job "${r.job}" FAILED: ${r.error ?? 'unknown error'}`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: clip(`❌ Backup job "${r.job}" failed`, 150) } },
          { type: 'section', text: { type: 'mrkdwn', text: `*Error*\n${code(r.error ?? 'unknown error')}` } },
          {
            type: 'section',
            text: {
              type: 'mrkdwn',
              text: `*Destinations* (${failed.length} of ${r.destinations.length} failed)\n${destinationLines(r)}`,
            },
          },
          context(`onedump · after ${formatDuration(r.durationMs)} · finished ${r.finishedAt}`),
        ],
      };
    }
    case 'summary': {
      const failed = event.results.filter((r) => !r.ok);
      const lines = event.results.map(
        (r) =>
          `${r.ok ? ':white_check_mark:' : ':x:'} *${esc(r.job)}* ${r.ok ? `${formatBytes(r.bytes)} in ${formatDuration(r.durationMs)}` : `— ${esc(clip(r.error ?? 'failed', 300))}`}`,
      );
      return {
        text: `Onedump results: ${event.results.length - failed.length} succeeded, ${failed.length} failed`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: 'Onedump Results' } },
          { type: 'section', text: { type: 'mrkdwn', text: clip(lines.join('\n'), 2900) } },
          context(`${event.results.length - failed.length} succeeded · ${failed.length} failed · ${event.at}`),
        ],
      };
    }
    case 'verify': {
      const r = event.result;
      const head = r.ok ? `✅ Restore drill of "${event.job}" verified` : `❌ Restore drill of "${event.job}" FAILED`;
      return {
        text: r.ok ? `Restore drill of job "${event.job}" verified ${r.backup}` : `Restore drill of job "${event.job}" FAILED: ${r.differences.join('; ')}`,
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: clip(head, 150) } },
          {
            type: 'section',
            fields: [
              { type: 'mrkdwn', text: `*Backup*\n${esc(r.backup)}` },
              { type: 'mrkdwn', text: `*Restore time*\n${r.restoreMs !== undefined ? formatDuration(r.restoreMs) : '-'}` },
            ],
          },
          ...(r.ok ? [] : [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: `*Differences*\n${code(clip(r.differences.join('\n'), 2800))}` } }]),
          context(`onedump · drill took ${formatDuration(r.durationMs)} · ${event.at}`),
        ],
      };
    }
    case 'progress':
      return undefined;
  }
}

/** Posts Block Kit messages to a Slack incoming webhook (any URL the config gives, http:// on a private network too). */
export class SlackNotifier implements Notifier {
  readonly kind = 'slack';
  private readonly hook: IncomingWebhook;
  constructor(private readonly opts: SlackOptions) {
    // Retries come from the program's policy (notify/retrying.ts), not the SDK's.
    this.hook = new IncomingWebhook(opts.incomingwebhook, { timeout: 15_000, retryConfig: { retries: 0 } });
  }

  async notify(event: JobEvent): Promise<void> {
    if (!wantsEvent(event, this.opts)) return;
    const msg = slackMessage(event);
    if (!msg) return;
    try {
      await this.hook.send(msg);
    } catch (err) {
      const e = err as { statusCode?: unknown; body?: unknown; original?: unknown; message?: string };
      if (typeof e.statusCode === 'number') throw new NotifyHttpError('Slack', e.statusCode, typeof e.body === 'string' ? e.body : '');
      const cause = (e.original ?? err) as Error & { cause?: { code?: string; message?: string } };
      const why = cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? String(cause);
      throw new OnedumpError(`Slack could not be reached: ${why}`, { cause });
    }
  }
}

export const slackBackend: NotifierBackend<SlackOptions> = {
  kind: 'slack',
  summary: 'Slack incoming webhook (Block Kit messages).',
  options: slackOptions,
  create: (opts) => new SlackNotifier(opts),
};
