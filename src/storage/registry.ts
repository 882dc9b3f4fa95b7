import { UsageError } from '../util/errors.js';
import type { StorageBackend, StorageContext, ResolvedTarget } from './backend.js';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { localBackend, expandHome } from './local.js';
import { s3Backend } from './s3.js';
import { gdriveBackend } from './gdrive.js';
import { dropboxBackend } from './dropbox.js';
import { sftpBackend } from './sftp.js';
import { withRetries } from './retrying.js';

/** Every storage a backend builds is wrapped once with retries of transient faults (retrying.ts). */
function retrying<O>(b: StorageBackend<O>): StorageBackend<O> {
  const wrap = (t: ResolvedTarget, ctx: StorageContext): ResolvedTarget => ({ ...t, storage: withRetries(t.storage, { log: ctx.log }) });
  return {
    ...b,
    fromConfig: (opts, ctx) => wrap(b.fromConfig(opts, ctx), ctx),
    fromUrl: (url, ctx, extra) => wrap(b.fromUrl(url, ctx, extra), ctx),
  };
}

/** Every storage backend; adding one is its file plus one line here. Order is the config's documentation order. */
export const storageBackends: StorageBackend<any>[] = [localBackend, s3Backend, gdriveBackend, dropboxBackend, sftpBackend].map((b) => // eslint-disable-line @typescript-eslint/no-explicit-any
  retrying(b as StorageBackend<unknown>),
);

export function backendByKind(kind: string): StorageBackend<unknown> {
  const b = storageBackends.find((x) => x.kind === kind);
  if (!b) throw new UsageError(`unknown storage "${kind}" (known: ${storageBackends.map((x) => x.kind).join(', ')}).`);
  return b as StorageBackend<unknown>;
}

/**
 * Builds a storage from a URL (`file:///abs`, a plain path, `s3://bucket/key?region=…`, `sftp://user@host:port/path`,
 * `gdrive://FOLDER/name`, `dropbox:///path`). Credentials never come from the URL.
 */
export function storageFromUrl(spec: string, ctx: StorageContext, extra?: Record<string, unknown>): ResolvedTarget {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(spec);
  if (!m) {
    const url = pathToFileURL(resolve(expandHome(spec)));
    if (spec.endsWith('/') && !url.pathname.endsWith('/')) url.pathname += '/';
    return backendByKind('local').fromUrl(url, ctx, extra);
  }
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new UsageError(`"${spec}" is not a valid storage URL.`);
  }
  const scheme = (m[1] as string).toLowerCase();
  const backend = storageBackends.find((b) => b.schemes.includes(scheme));
  if (!backend) {
    throw new UsageError(
      `unknown storage URL scheme "${scheme}://" (use ${storageBackends.flatMap((b) => b.schemes.map((s) => `${s}://`)).join(', ')}, or a plain path).`,
    );
  }
  if (url.password) throw new UsageError(`storage URLs must not carry a password; put credentials in the config or the environment.`);
  return backend.fromUrl(url, ctx, extra);
}

