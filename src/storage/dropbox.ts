import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { str, secret, keepField } from '../config/fields.js';
import { PermanentError, TransientError, UsageError, isTransient, errorMessage } from '../util/errors.js';
import { DEFAULT_RETRY, retry, type RetryPolicy } from '../util/retry.js';
import type { Logger } from '../util/logger.js';
import type { StorageBackend } from './backend.js';
import type { ObjectInfo, PutOptions, Storage, StoredObject } from './types.js';
import { readInChunks } from './chunks.js';

/**
 * Dropbox through an app's refresh token.
 *
 * Uploads use an upload session: start (empty), append_v2 in chunks of `chunkSize` (8 MiB; only the chunk not yet
 * acknowledged is held in memory, sent as a Buffer as dropbox 10.34 wants), finish. Each call carries the Dropbox
 * content hash of its bytes so Dropbox rejects a chunk damaged in transit. A chunk whose connection dropped is sent
 * again at the same offset; if Dropbox had kept it after all, it answers `incorrect_offset` with `correct_offset`
 * and the upload goes on from there. The session is finished into a temporary name next to the target
 * (`NAME.onedump-partial-RANDOM`), its size and content_hash are compared with those computed locally, and only then
 * is it moved to the final path (an older file there is deleted first, after the new copy verified). A failed run
 * therefore never leaves a partial file under the final name.
 */

const DEFAULT_API = 'https://api.dropboxapi.com/';
const DEFAULT_CONTENT = 'https://content.dropboxapi.com/';
export const DROPBOX_DEFAULT_CHUNK = 8 * 1024 * 1024;
const BLOCK = 4 * 1024 * 1024;
const PARTIAL_RE = /\.onedump-partial-[0-9a-f]+$/;

/** Dropbox's content hash, computed incrementally: sha256 over the sha256 of each 4 MiB block. */
export class DropboxContentHasher {
  private outer = createHash('sha256');
  private block = createHash('sha256');
  private inBlock = 0;

  update(data: Buffer): this {
    let p = data;
    while (p.length) {
      const n = Math.min(p.length, BLOCK - this.inBlock);
      this.block.update(p.subarray(0, n));
      this.inBlock += n;
      p = p.subarray(n);
      if (this.inBlock === BLOCK) {
        this.outer.update(this.block.digest());
        this.block = createHash('sha256');
        this.inBlock = 0;
      }
    }
    return this;
  }

  digest(): string {
    if (this.inBlock > 0) this.outer.update(this.block.digest());
    return this.outer.digest('hex');
  }
}

export function dropboxContentHash(data: Buffer): string {
  return new DropboxContentHasher().update(data).digest();
}

export interface DropboxStorageOptions {
  /** Folder in Dropbox the keys are relative to ('' or '/' for the root). */
  root: string;
  refreshToken: string;
  clientId: string;
  clientSecret: string;
  /** Hidden: where the API lives (tests point it at a local server). Env ONEDUMP_DROPBOX_BASE_URL. */
  baseUrl?: string;
  chunkSize?: number;
  retry?: Partial<RetryPolicy>;
  log?: Logger;
}

interface FileMeta {
  '.tag'?: string;
  path_display?: string;
  path_lower?: string;
  size?: number;
  content_hash?: string;
  server_modified?: string;
}

/* The parts of the SDK we use, so the module loads only when a Dropbox storage is used. */
interface DbxResponse<T> {
  result: T;
}
interface DbxClient {
  auth: {
    checkAndRefreshAccessToken(): Promise<void>;
    getAccessToken(): string;
    setAccessTokenExpiresAt(d: Date): void;
  };
  filesUploadSessionStart(arg: Record<string, unknown>): Promise<DbxResponse<{ session_id: string }>>;
  filesUploadSessionAppendV2(arg: Record<string, unknown>): Promise<DbxResponse<unknown>>;
  filesUploadSessionFinish(arg: Record<string, unknown>): Promise<DbxResponse<FileMeta>>;
  filesListFolder(arg: Record<string, unknown>): Promise<DbxResponse<{ entries: FileMeta[]; cursor: string; has_more: boolean }>>;
  filesListFolderContinue(arg: Record<string, unknown>): Promise<DbxResponse<{ entries: FileMeta[]; cursor: string; has_more: boolean }>>;
  filesGetMetadata(arg: Record<string, unknown>): Promise<DbxResponse<FileMeta>>;
  filesDeleteV2(arg: Record<string, unknown>): Promise<DbxResponse<unknown>>;
  filesMoveV2(arg: Record<string, unknown>): Promise<DbxResponse<{ metadata: FileMeta }>>;
}

interface DbxError {
  status?: number;
  error?: { error_summary?: string; error?: Record<string, unknown> | string; error_description?: string };
}

function summary(err: unknown): string {
  const e = (err as DbxError).error;
  if (!e || typeof e !== 'object') return '';
  return e.error_summary ?? (typeof e.error === 'string' ? e.error : '');
}

/** The `correct_offset` of an incorrect_offset error (append_v2 or finish), if that is what this is. */
function correctOffset(err: unknown): number | undefined {
  const e = (err as DbxError).error?.error;
  if (!e || typeof e !== 'object') return undefined;
  const inner = (e['.tag'] === 'lookup_failed' ? e.lookup_failed : e) as { '.tag'?: string; correct_offset?: number } | undefined;
  return inner?.['.tag'] === 'incorrect_offset' && typeof inner.correct_offset === 'number' ? inner.correct_offset : undefined;
}

function isNotFound(err: unknown): boolean {
  return (err as DbxError).status === 409 && /not_found/.test(summary(err));
}

function normRoot(root: string): string {
  let r = root.trim();
  if (r === '/' || r === '') return '';
  if (!r.startsWith('/')) r = `/${r}`;
  return r.replace(/\/+$/, '');
}

export class DropboxStorage implements Storage {
  readonly kind = 'dropbox';
  readonly root: string;
  private readonly refreshToken: string;
  private readonly clientId: string;
  private readonly clientSecret: string;
  private readonly testBase: string | undefined;
  private readonly chunkSize: number;
  /** Used by the retrying wrapper (retrying.ts) for whole operations and by put() for each chunk. */
  readonly retryPolicy: RetryPolicy;
  private readonly log: Logger | undefined;
  private client: Promise<DbxClient> | undefined;

  constructor(o: DropboxStorageOptions) {
    this.root = normRoot(o.root);
    this.refreshToken = o.refreshToken;
    this.clientId = o.clientId;
    this.clientSecret = o.clientSecret;
    const base = o.baseUrl ?? process.env.ONEDUMP_DROPBOX_BASE_URL;
    this.testBase = base ? (base.endsWith('/') ? base : `${base}/`) : undefined;
    this.chunkSize = Math.max(1, o.chunkSize ?? DROPBOX_DEFAULT_CHUNK);
    this.retryPolicy = { ...DEFAULT_RETRY, ...o.retry };
    this.log = o.log;
  }

  path(key: string): string {
    return posix.join(this.root || '/', key);
  }

  describe(key?: string): string {
    return `dropbox://${key === undefined ? this.root || '/' : this.path(key)}`;
  }

  private url(u: string): string {
    if (!this.testBase) return u;
    for (const host of [DEFAULT_API, DEFAULT_CONTENT]) if (u.startsWith(host)) return this.testBase + u.slice(host.length);
    return u;
  }

  private dbx(): Promise<DbxClient> {
    this.client ??= (async () => {
      const { Dropbox } = await import('dropbox');
      const fetchImpl = (input: string, init: RequestInit) => fetch(this.url(input), init);
      return new Dropbox({
        clientId: this.clientId,
        clientSecret: this.clientSecret,
        refreshToken: this.refreshToken,
        fetch: fetchImpl,
      }) as unknown as DbxClient;
    })();
    return this.client;
  }

  /** One network step under the shared retry policy; permanent faults become one clear sentence. */
  private async call<T>(
    action: string,
    key: string | undefined,
    fn: (attempt: number) => Promise<T>,
    signal?: AbortSignal,
    once = false,
  ): Promise<T> {
    try {
      return await retry(
        async (attempt) => {
          try {
            return await fn(attempt);
          } catch (err) {
            // An access token that expired mid-run (e.g. the clock jumped): renew and try again.
            if ((err as DbxError).status === 401 && /expired_access_token/.test(summary(err))) {
              (await this.dbx()).auth.setAccessTokenExpiresAt(new Date(0));
              throw new TransientError('Dropbox: the access token expired', { cause: err });
            }
            throw err;
          }
        },
        {
          policy: once ? { attempts: 1 } : this.retryPolicy,
          signal,
          onRetry: (err, attempt, delay) =>
            this.log?.warn(`Dropbox: ${action} ${this.describe(key)} failed (${errorMessage(err)}); retry ${attempt} in ${delay} ms`),
        },
      );
    } catch (err) {
      throw this.explain(err, action, key, once);
    }
  }

  private explain(err: unknown, action: string, key: string | undefined, once = false): unknown {
    if (err instanceof PermanentError || (err as Error)?.name === 'AbortError') return err;
    const where = this.describe(key);
    const e = err as DbxError;
    const s = summary(err);
    const oauth = e.error && typeof e.error === 'object' && typeof e.error.error === 'string' ? e.error : undefined;
    if (oauth) {
      const what = oauth.error === 'invalid_client' ? 'the app key or secret (clientid, clientsecret)' : 'the refresh token';
      return new PermanentError(
        `Dropbox: ${what} was refused (${oauth.error}) while ${action} ${where}; check clientid and clientsecret, and create a new refresh token with the OAuth code flow (docs/storage.md).`,
        { cause: err },
      );
    }
    if (e.status === 401) {
      return new PermanentError(
        `Dropbox: the access was refused (${s || 'unauthorized'}) while ${action} ${where}; create a new refresh token for the app with the OAuth code flow (docs/storage.md).`,
        { cause: err },
      );
    }
    if (e.status === 403 || /no_write_permission|restricted_content|missing_scope/.test(s)) {
      return new PermanentError(
        `Dropbox: the app may not ${action.replace(/ing$/, '')} ${where} (${s || 'forbidden'}); give the app the files.content.write and files.content.read permissions and create a new refresh token.`,
        { cause: err },
      );
    }
    if (/insufficient_space/.test(s)) {
      return new PermanentError(`Dropbox: no space left in the Dropbox account while ${action} ${where}; free space or raise the quota.`, {
        cause: err,
      });
    }
    if (isTransient(err)) {
      return new TransientError(
        `Dropbox: ${action} ${where} failed${once ? '' : ' after retries'}: ${errorMessage(err)}; check the network and try again.`,
        { cause: err },
      );
    }
    return new PermanentError(`Dropbox: ${action} ${where} failed: ${s || errorMessage(err)}.`, { cause: err });
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<StoredObject> {
    const signal = opts.signal;
    if (signal) addAbortSignal(signal, body);
    const dbx = await this.dbx();
    const finalPath = this.path(key);
    const tmpPath = `${finalPath}.onedump-partial-${randomBytes(6).toString('hex')}`;
    const sessionId = await this.call(
      'starting an upload to',
      key,
      async () => (await dbx.filesUploadSessionStart({ close: false, contents: Buffer.alloc(0) })).result.session_id,
      signal,
      true, // nothing of the body is read yet: the retrying wrapper repeats the whole put
    );
    const whole = new DropboxContentHasher();
    const sha = createHash('sha256');
    const buf = Buffer.allocUnsafe(this.chunkSize);
    let acked = 0;

    /** Appends buf[0, len) at absolute offset `start`, resuming at Dropbox's offset when it differs. */
    const append = (start: number, len: number) => {
      let from = start;
      const end = start + len;
      return this.call(
        'uploading',
        key,
        async () => {
          for (;;) {
            if (from === end) return;
            const piece = buf.subarray(from - start, len);
            try {
              await dbx.filesUploadSessionAppendV2({
                cursor: { session_id: sessionId, offset: from },
                close: false,
                contents: piece,
                content_hash: dropboxContentHash(piece),
              });
              from = end;
            } catch (err) {
              const co = correctOffset(err);
              if (co === undefined) throw err;
              if (co < start || co > end) {
                throw new PermanentError(
                  `Dropbox: the upload session of ${this.describe(key)} is at byte ${co}, outside the chunk ${start}-${end} still in memory; run the job again.`,
                );
              }
              this.log?.info(`Dropbox: resuming ${this.describe(key)} at byte ${co}`);
              from = co;
            }
          }
        },
        signal,
      );
    };

    const { total, fill } = await readInChunks(
      body,
      buf,
      (p) => {
        whole.update(p);
        sha.update(p);
      },
      async () => {
        await append(acked, buf.length);
        acked += buf.length;
        opts.onProgress?.(acked);
      },
    );
    signal?.throwIfAborted();
    const localHash = whole.digest();
    const localSha = sha.digest('hex');

    // Finish the rest into the temporary name. A lost answer is recognised by the temporary file existing.
    let from = acked;
    const end = acked + fill;
    const stored = await this.call(
      'uploading',
      key,
      async (attempt) => {
        if (attempt > 1) {
          const existing = await this.metaOf(tmpPath);
          if (existing) return existing;
        }
        for (;;) {
          const piece = buf.subarray(from - acked, fill);
          try {
            return (
              await dbx.filesUploadSessionFinish({
                cursor: { session_id: sessionId, offset: from },
                commit: { path: tmpPath, mode: { '.tag': 'overwrite' }, autorename: false, mute: true },
                contents: piece,
                content_hash: dropboxContentHash(piece),
              })
            ).result;
          } catch (err) {
            const co = correctOffset(err);
            if (co === undefined || co < acked || co > end) throw err;
            from = co;
          }
        }
      },
      signal,
    );
    opts.onProgress?.(total);

    const discard = () =>
      dbx.filesDeleteV2({ path: tmpPath }).catch((err: unknown) => {
        this.log?.warn(`Dropbox: could not delete the temporary ${this.describe(tmpPath)}: ${errorMessage(err)}`);
      });
    try {
      if (stored.size !== total || stored.content_hash !== localHash) {
        throw new PermanentError(
          `Dropbox: ${this.describe(key)} did not verify (stored ${stored.size} bytes, content_hash ${stored.content_hash}; sent ${total} bytes, ${localHash}); the upload was discarded, run the job again.`,
        );
      }
      if (opts.size !== undefined && opts.size !== total) {
        throw new PermanentError(
          `Dropbox: ${this.describe(key)} received ${total} bytes, expected ${opts.size}; the upload was discarded.`,
        );
      }
      if (opts.sha256 && opts.sha256 !== localSha) {
        throw new PermanentError(`Dropbox: ${this.describe(key)} does not match the expected sha256; the upload was discarded.`);
      }
      await this.call(
        'committing',
        key,
        async () => {
          try {
            await dbx.filesMoveV2({ from_path: tmpPath, to_path: finalPath, autorename: false });
          } catch (err) {
            if ((err as DbxError).status === 409 && /^to\/conflict/.test(summary(err))) {
              // An older backup of the same name: the new one is complete and verified, so replace it now.
              await this.deletePath(finalPath);
              await dbx.filesMoveV2({ from_path: tmpPath, to_path: finalPath, autorename: false });
              return;
            }
            // A move whose answer was lost: the file is already where it should be.
            if (isNotFound(err) && (await this.metaOf(finalPath))?.content_hash === localHash) return;
            throw err;
          }
        },
        signal,
      );
    } catch (err) {
      await discard();
      throw err;
    }
    return { key, size: total, location: this.describe(key), hash: { algorithm: 'dropbox-content-hash', value: localHash } };
  }

  private async metaOf(path: string): Promise<FileMeta | undefined> {
    const dbx = await this.dbx();
    try {
      const m = (await dbx.filesGetMetadata({ path })).result;
      return m['.tag'] === 'file' ? m : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async deletePath(path: string): Promise<void> {
    const dbx = await this.dbx();
    try {
      await dbx.filesDeleteV2({ path });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  private info(m: FileMeta): ObjectInfo {
    const full = m.path_display ?? '';
    const key = this.root ? full.slice(this.root.length + 1) : full.slice(1);
    return {
      key,
      size: m.size ?? 0,
      modified: m.server_modified ? new Date(m.server_modified) : undefined,
      hash: m.content_hash ? { algorithm: 'dropbox-content-hash', value: m.content_hash } : undefined,
    };
  }

  async get(key: string, opts: { signal?: AbortSignal; start?: number } = {}): Promise<Readable> {
    const dbx = await this.dbx();
    const res = await this.call(
      'downloading',
      key,
      async () => {
        // The SDK buffers downloads whole; fetch the same endpoint and stream it instead.
        await dbx.auth.checkAndRefreshAccessToken();
        const headers: Record<string, string> = {
          Authorization: `Bearer ${dbx.auth.getAccessToken()}`,
          'Dropbox-API-Arg': JSON.stringify({ path: this.path(key) }).replace(
            /[\u007f-\uffff]/g,
            (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
          ),
        };
        if (opts.start) headers.Range = `bytes=${opts.start}-`;
        const r = await fetch(this.url(`${DEFAULT_CONTENT}2/files/download`), { method: 'POST', headers, signal: opts.signal });
        if (!r.ok) {
          const text = await r.text();
          let error: unknown = text;
          try {
            error = JSON.parse(text);
          } catch {
            /* plain text */
          }
          throw Object.assign(new Error(`Response failed with a ${r.status} code`), { status: r.status, error });
        }
        return r;
      },
      opts.signal,
      true,
    ).catch((err: unknown) => {
      if (err instanceof PermanentError && isNotFound((err as { cause?: unknown }).cause)) {
        throw new PermanentError(`Dropbox: ${this.describe(key)} does not exist.`);
      }
      throw err;
    });
    if (!res.body) return Readable.from([]);
    return Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const dbx = await this.dbx();
    const slash = prefix.lastIndexOf('/');
    const dir = slash >= 0 ? this.path(prefix.slice(0, slash)) : this.root;
    const folder = dir === '/' ? '' : dir;
    type Page = { entries: FileMeta[]; cursor: string; has_more: boolean };
    let page: Page;
    try {
      page = (
        await this.call('listing', prefix, () => dbx.filesListFolder({ path: folder, recursive: true, limit: 2000 }), undefined, true)
      ).result;
    } catch (err) {
      if (isNotFound((err as { cause?: unknown }).cause)) return;
      throw err;
    }
    const out: ObjectInfo[] = [];
    for (;;) {
      for (const m of page.entries) {
        if (m['.tag'] !== 'file' || PARTIAL_RE.test(m.path_display ?? '')) continue;
        const info = this.info(m);
        if (info.key.startsWith(prefix)) out.push(info);
      }
      if (!page.has_more) break;
      const cursor: string = page.cursor;
      page = (await this.call('listing', prefix, () => dbx.filesListFolderContinue({ cursor }), undefined, true)).result;
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* out;
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const m = await this.call('looking up', key, () => this.metaOf(this.path(key)), undefined, true);
    return m ? this.info(m) : undefined;
  }

  async delete(key: string): Promise<void> {
    await this.call('deleting', key, () => this.deletePath(this.path(key)), undefined, true);
  }
}

/** Credentials for URL-form storages, from the environment. */
export function dropboxCredentialsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  refreshToken: string;
  clientId: string;
  clientSecret: string;
} {
  const refreshToken = env.DROPBOX_REFRESH_TOKEN;
  const clientId = env.DROPBOX_CLIENT_ID;
  const clientSecret = env.DROPBOX_CLIENT_SECRET;
  if (!refreshToken || !clientId || !clientSecret) {
    const missing = [
      ['DROPBOX_REFRESH_TOKEN', refreshToken],
      ['DROPBOX_CLIENT_ID', clientId],
      ['DROPBOX_CLIENT_SECRET', clientSecret],
    ]
      .filter(([, v]) => !v)
      .map(([k]) => k);
    throw new UsageError(
      `Dropbox: no credentials for a dropbox:// URL; set ${missing.join(', ')} (the app key, app secret and a refresh token, see docs/storage.md).`,
    );
  }
  return { refreshToken, clientId, clientSecret };
}

const dropboxOptions = z.strictObject({
  path: str({ description: 'Path of the backup in Dropbox.', example: '/backups/app.sql', go: true }),
  refreshtoken: secret({ description: 'OAuth refresh token.', go: true }),
  clientid: str({ description: 'App key (client id).', go: true }),
  clientsecret: secret({ description: 'App secret (client secret).', go: true }),
  keep: keepField('in the folder'),
});
export type DropboxOptions = z.infer<typeof dropboxOptions>;

function splitPath(p: string): { root: string; key: string } {
  const abs = p.startsWith('/') ? p : `/${p}`;
  if (abs.endsWith('/')) return { root: abs, key: '' };
  return { root: posix.dirname(abs), key: posix.basename(abs) };
}

export const dropboxBackend: StorageBackend<DropboxOptions> = {
  kind: 'dropbox',
  summary: 'Dropbox (upload sessions in bounded chunks).',
  options: dropboxOptions,
  schemes: ['dropbox'],
  fromConfig(o, ctx) {
    const { root, key } = splitPath(o.path);
    return {
      storage: new DropboxStorage({ root, refreshToken: o.refreshtoken, clientId: o.clientid, clientSecret: o.clientsecret, log: ctx.log }),
      key,
    };
  },
  fromUrl(url, ctx) {
    if (url.host) throw new UsageError(`"${url.href}" has a host; Dropbox URLs look like dropbox:///folder/name (three slashes).`);
    const { root, key } = splitPath(decodeURIComponent(url.pathname || '/'));
    return { storage: new DropboxStorage({ root, ...dropboxCredentialsFromEnv(), log: ctx.log }), key };
  },
  describe(o) {
    return `dropbox://${o.path.startsWith('/') ? '' : '/'}${o.path}`;
  },
};
