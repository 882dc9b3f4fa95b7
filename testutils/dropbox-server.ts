import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/**
 * A small local stand-in for the Dropbox API v2, speaking the wire protocol the dropbox SDK uses (reached through a
 * fetch that rewrites api./content.dropboxapi.com to this server) and checking requests as Dropbox does: refresh-token
 * grants against the app key and secret, Bearer tokens that expire (so renewal is exercised), upload-session offsets
 * (a wrong one gets `incorrect_offset` with `correct_offset`), per-call content hashes, Dropbox's content_hash on
 * every file. Faults: `cutAppend(offset, mode)` drops the connection of the upload request carrying byte `offset` —
 * `mid-body` before the server kept anything of it (appends are all-or-nothing), `after-commit` after it kept the
 * data but before it answered.
 */

const BLOCK = 4 * 1024 * 1024;
const MAX_REQUEST = 150 * 1024 * 1024;

/** Dropbox's content_hash: sha256 over the concatenated sha256 digests of each 4 MiB block. */
export function dropboxContentHash(data: Buffer): string {
  const outer = createHash('sha256');
  for (let i = 0; i < data.length; i += BLOCK)
    outer.update(
      createHash('sha256')
        .update(data.subarray(i, i + BLOCK))
        .digest(),
    );
  return outer.digest('hex');
}

export interface DropboxFile {
  id: string;
  pathDisplay: string;
  data: Buffer;
  contentHash: string;
  rev: string;
  serverModified: string;
}

interface Session {
  id: string;
  pieces: Buffer[];
  received: number;
  closed: boolean;
  finished?: boolean;
}

export interface UploadRecord {
  endpoint: 'start' | 'append_v2' | 'finish' | 'upload';
  session?: string;
  offset?: number;
  length: number;
  /** ok, incorrect_offset, cut-mid-body, cut-after-commit, or another error tag. */
  result: string;
  correctOffset?: number;
}

export interface DropboxServerOptions {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** Lifetime of issued access tokens (the SDK renews within 300 s of expiry). Default 14400. */
  tokenTtlSeconds?: number;
  /** Largest list_folder page (to exercise pagination). */
  pageSize?: number;
}

type CutMode = 'mid-body' | 'after-commit';

export class DropboxServer {
  url = '';
  readonly files = new Map<string, DropboxFile>();
  readonly sessions = new Map<string, Session>();
  readonly uploads: UploadRecord[] = [];
  readonly tokens = new Map<string, number>();
  tokensIssued = 0;
  expiredRejected = 0;
  private cuts: Array<{ offset: number; mode: CutMode }> = [];
  private readonly server: Server;
  private seq = 0;
  private cursors = new Map<string, { entries: unknown[]; pos: number }>();

  constructor(private readonly opts: DropboxServerOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) this.json(res, 500, { error_summary: `internal error in the fake: ${(err as Error).message}` });
        else res.destroy();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  cutAppend(offset: number, mode: CutMode): void {
    this.cuts.push({ offset, mode });
    this.cuts.sort((a, b) => a.offset - b.offset);
  }

  clearCuts(): void {
    this.cuts = [];
  }

  /** Files whose path starts with `prefix` (case-insensitive, as Dropbox paths are). */
  filesUnder(prefix: string): DropboxFile[] {
    const p = prefix.toLowerCase();
    return [...this.files.entries()].filter(([k]) => k.startsWith(p)).map(([, f]) => f);
  }

  addFile(path: string, data: Buffer, when = new Date()): DropboxFile {
    const f: DropboxFile = {
      id: `id:${randomBytes(8).toString('hex')}`,
      pathDisplay: path,
      data,
      contentHash: dropboxContentHash(data),
      rev: randomBytes(8).toString('hex'),
      serverModified: when.toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    this.files.set(path.toLowerCase(), f);
    return f;
  }

  private json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** A route error as Dropbox sends it: 409 with error_summary and the tagged union. */
  private routeError(res: ServerResponse, error: Record<string, unknown>, summary: string): void {
    this.json(res, 409, { error_summary: `${summary}/`, error });
  }

  private async body(req: IncomingMessage): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const p of req) parts.push(p as Buffer);
    return Buffer.concat(parts);
  }

  private meta(f: DropboxFile) {
    const name = f.pathDisplay.slice(f.pathDisplay.lastIndexOf('/') + 1);
    return {
      '.tag': 'file',
      name,
      id: f.id,
      path_lower: f.pathDisplay.toLowerCase(),
      path_display: f.pathDisplay,
      client_modified: f.serverModified,
      server_modified: f.serverModified,
      rev: f.rev,
      size: f.data.length,
      is_downloadable: true,
      content_hash: f.contentHash,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/oauth2/token' && req.method === 'POST') return this.token(url, req, res);
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const exp = auth ? this.tokens.get(auth[1]!) : undefined;
    if (exp === undefined || exp <= Date.now()) {
      req.resume();
      if (exp !== undefined) {
        this.expiredRejected++;
        return this.json(res, 401, { error_summary: 'expired_access_token/', error: { '.tag': 'expired_access_token' } });
      }
      return this.json(res, 401, { error_summary: 'invalid_access_token/', error: { '.tag': 'invalid_access_token' } });
    }
    const route = url.pathname.replace(/^\/2\//, '');
    switch (route) {
      case 'files/upload_session/start':
      case 'files/upload_session/append_v2':
      case 'files/upload_session/finish':
      case 'files/upload':
        return this.upload(route, req, res);
      case 'files/download':
        return this.download(req, res);
    }
    const raw = (await this.body(req)).toString();
    let arg: Record<string, unknown>;
    try {
      arg = raw ? JSON.parse(raw) : {};
    } catch {
      return this.json(res, 400, { error_summary: 'Error in call: could not decode input as JSON' });
    }
    switch (route) {
      case 'files/list_folder':
        return this.listFolder(arg, res);
      case 'files/list_folder/continue':
        return this.listContinue(arg, res);
      case 'files/get_metadata': {
        const f = this.files.get(String(arg.path).toLowerCase());
        if (f) return this.json(res, 200, this.meta(f));
        if (this.isFolder(String(arg.path))) {
          const p = String(arg.path);
          return this.json(res, 200, {
            '.tag': 'folder',
            name: p.split('/').pop(),
            path_lower: p.toLowerCase(),
            path_display: p,
            id: 'id:folder',
          });
        }
        return this.routeError(res, { '.tag': 'path', path: { '.tag': 'not_found' } }, 'path/not_found');
      }
      case 'files/delete_v2': {
        const key = String(arg.path).toLowerCase();
        const f = this.files.get(key);
        if (!f) return this.routeError(res, { '.tag': 'path_lookup', path_lookup: { '.tag': 'not_found' } }, 'path_lookup/not_found');
        this.files.delete(key);
        return this.json(res, 200, { metadata: this.meta(f) });
      }
      case 'files/move_v2': {
        const from = String(arg.from_path);
        const to = String(arg.to_path);
        const f = this.files.get(from.toLowerCase());
        if (!f) return this.routeError(res, { '.tag': 'from_lookup', from_lookup: { '.tag': 'not_found' } }, 'from_lookup/not_found');
        if (this.files.has(to.toLowerCase())) {
          return this.routeError(res, { '.tag': 'to', to: { '.tag': 'conflict', conflict: { '.tag': 'file' } } }, 'to/conflict/file');
        }
        this.files.delete(from.toLowerCase());
        f.pathDisplay = to;
        this.files.set(to.toLowerCase(), f);
        return this.json(res, 200, { metadata: this.meta(f) });
      }
    }
    this.json(res, 400, { error_summary: `Unknown API function: "${route}"` });
  }

  private async token(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams((await this.body(req)).toString());
    const get = (k: string) => url.searchParams.get(k) ?? form.get(k);
    if (get('grant_type') !== 'refresh_token')
      return this.json(res, 400, { error: 'unsupported_grant_type', error_description: 'grant_type' });
    if (get('client_id') !== this.opts.clientId || get('client_secret') !== this.opts.clientSecret) {
      return this.json(res, 400, { error: 'invalid_client', error_description: 'Invalid client_id or client_secret' });
    }
    if (get('refresh_token') !== this.opts.refreshToken) {
      return this.json(res, 400, { error: 'invalid_grant', error_description: 'refresh token is invalid or revoked' });
    }
    const ttl = this.opts.tokenTtlSeconds ?? 14_400;
    const token = `sl.fake-${randomBytes(16).toString('hex')}`;
    this.tokens.set(token, Date.now() + ttl * 1000);
    this.tokensIssued++;
    this.json(res, 200, { access_token: token, token_type: 'bearer', expires_in: ttl });
  }

  private isFolder(path: string): boolean {
    const p = path.toLowerCase().replace(/\/$/, '');
    if (p === '') return true;
    return [...this.files.keys()].some((k) => k.startsWith(`${p}/`));
  }

  private listFolder(arg: Record<string, unknown>, res: ServerResponse): void {
    const path = String(arg.path ?? '');
    if (path !== '' && !path.startsWith('/')) {
      return this.json(res, 400, {
        error_summary: `Error in call to API function "files/list_folder": request body: path: '${path}' did not match pattern`,
      });
    }
    if (!this.isFolder(path)) return this.routeError(res, { '.tag': 'path', path: { '.tag': 'not_found' } }, 'path/not_found');
    const base = path.toLowerCase().replace(/\/$/, '');
    const entries: unknown[] = [];
    const folders = new Set<string>();
    for (const [k, f] of this.files) {
      if (!k.startsWith(`${base}/`)) continue;
      const rest = k.slice(base.length + 1);
      if (!arg.recursive && rest.includes('/')) {
        const sub = `${base}/${rest.split('/')[0]}`;
        if (!folders.has(sub)) {
          folders.add(sub);
          const disp = f.pathDisplay.slice(0, sub.length);
          entries.push({ '.tag': 'folder', name: disp.split('/').pop(), path_lower: sub, path_display: disp, id: `id:${sub}` });
        }
        continue;
      }
      entries.push(this.meta(f));
    }
    const cursor = `cursor-${++this.seq}`;
    this.cursors.set(cursor, { entries, pos: 0 });
    this.page(cursor, Number(arg.limit ?? 2000), res);
  }

  private listContinue(arg: Record<string, unknown>, res: ServerResponse): void {
    const cursor = String(arg.cursor);
    if (!this.cursors.has(cursor)) return this.routeError(res, { '.tag': 'reset' }, 'reset');
    this.page(cursor, 2000, res);
  }

  private page(cursor: string, limit: number, res: ServerResponse): void {
    const c = this.cursors.get(cursor)!;
    const n = Math.min(limit, this.opts.pageSize ?? 2000);
    const entries = c.entries.slice(c.pos, c.pos + n);
    c.pos += entries.length;
    this.json(res, 200, { entries, cursor, has_more: c.pos < c.entries.length });
  }

  private async download(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await this.body(req);
    let arg: { path?: string };
    try {
      arg = JSON.parse(String(req.headers['dropbox-api-arg'] ?? ''));
    } catch {
      return this.json(res, 400, { error_summary: 'Error in call: could not decode Dropbox-API-Arg' });
    }
    const f = this.files.get(String(arg.path).toLowerCase());
    if (!f) return this.routeError(res, { '.tag': 'path', path: { '.tag': 'not_found' } }, 'path/not_found');
    // Like the real API, the result header escapes non-ASCII characters (HTTP headers cannot carry them raw).
    const result = JSON.stringify(this.meta(f)).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const headers = { 'dropbox-api-result': result, 'content-type': 'application/octet-stream' };
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      const from = Math.min(Number(range[1]), f.data.length);
      res.writeHead(206, {
        ...headers,
        'content-length': f.data.length - from,
        'content-range': `bytes ${from}-${f.data.length - 1}/${f.data.length}`,
      });
      res.end(f.data.subarray(from));
      return;
    }
    res.writeHead(200, { ...headers, 'content-length': f.data.length });
    res.end(f.data);
  }

  /** Receives an upload body whole (uploads are all-or-nothing), cutting the connection where told to. */
  private async receive(
    req: IncomingMessage,
    startOffset: number | undefined,
  ): Promise<{ data?: Buffer; cut?: { offset: number; mode: CutMode } }> {
    const parts: Buffer[] = [];
    let got = 0;
    const cut = startOffset === undefined ? undefined : this.cuts[0];
    return new Promise((resolve, reject) => {
      let done = false;
      req.on('data', (p: Buffer) => {
        if (done) return;
        parts.push(p);
        got += p.length;
        if (got > MAX_REQUEST) {
          done = true;
          req.socket.destroy();
          return reject(new Error('request too large'));
        }
        if (cut && cut.mode === 'mid-body' && startOffset! <= cut.offset && startOffset! + got > cut.offset) {
          done = true;
          this.cuts.shift();
          req.socket.destroy();
          resolve({ cut });
        }
      });
      req.on('end', () => {
        if (done) return;
        done = true;
        const data = Buffer.concat(parts);
        if (cut && cut.mode === 'after-commit' && startOffset! <= cut.offset && startOffset! + data.length > cut.offset) {
          this.cuts.shift();
          return resolve({ data, cut });
        }
        resolve({ data });
      });
      req.on('error', () => {
        if (!done) {
          done = true;
          resolve({});
        }
      });
    });
  }

  private async upload(route: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let arg: {
      cursor?: { session_id?: string; offset?: number };
      close?: boolean;
      content_hash?: string;
      commit?: { path?: string; mode?: string | { '.tag': string } };
      path?: string;
      mode?: string | { '.tag': string };
    };
    try {
      arg = JSON.parse(String(req.headers['dropbox-api-arg'] ?? ''));
    } catch {
      req.resume();
      return this.json(res, 400, { error_summary: 'Error in call: could not decode Dropbox-API-Arg' });
    }
    if (req.headers['content-type'] !== 'application/octet-stream') {
      req.resume();
      return this.json(res, 400, { error_summary: 'Bad HTTP "Content-Type" header: expecting "application/octet-stream"' });
    }
    const endpoint = route.split('/').pop() as UploadRecord['endpoint'];
    const s = arg.cursor?.session_id ? this.sessions.get(arg.cursor.session_id) : undefined;
    const rec: UploadRecord = { endpoint, session: s?.id, offset: arg.cursor?.offset, length: 0, result: 'ok' };
    this.uploads.push(rec);
    const offset = endpoint === 'append_v2' || endpoint === 'finish' ? arg.cursor?.offset : undefined;
    const got = await this.receive(req, s && offset === s.received ? offset : undefined);
    if (!got.data) {
      rec.result = got.cut ? 'cut-mid-body' : 'client-went-away';
      return;
    }
    const data = got.data;
    rec.length = data.length;
    if (arg.content_hash && arg.content_hash !== dropboxContentHash(data)) {
      rec.result = 'content_hash_mismatch';
      return this.routeError(res, { '.tag': 'content_hash_mismatch' }, 'content_hash_mismatch');
    }
    if (endpoint === 'start') {
      const ns: Session = {
        id: `sess-${++this.seq}-${randomBytes(6).toString('hex')}`,
        pieces: [data],
        received: data.length,
        closed: !!arg.close,
      };
      this.sessions.set(ns.id, ns);
      rec.session = ns.id;
      return this.json(res, 200, { session_id: ns.id });
    }
    if (endpoint === 'upload') {
      const path = String(arg.path);
      const err = this.commitConflict(path, arg.mode);
      if (err) {
        rec.result = 'conflict';
        return this.routeError(res, { '.tag': 'path', reason: { '.tag': 'conflict' } }, 'path/conflict/file');
      }
      return this.json(res, 200, this.meta(this.addFile(path, data)));
    }
    const lookup = (e: Record<string, unknown>, summary: string) =>
      endpoint === 'finish'
        ? this.routeError(res, { '.tag': 'lookup_failed', lookup_failed: e }, `lookup_failed/${summary}`)
        : this.routeError(res, e, summary);
    if (!s || s.finished) {
      rec.result = 'not_found';
      return lookup({ '.tag': 'not_found' }, 'not_found');
    }
    if (offset !== s.received) {
      rec.result = 'incorrect_offset';
      rec.correctOffset = s.received;
      return lookup({ '.tag': 'incorrect_offset', correct_offset: s.received }, 'incorrect_offset');
    }
    if (s.closed && data.length > 0) {
      rec.result = 'closed';
      return lookup({ '.tag': 'closed' }, 'closed');
    }
    s.pieces.push(data);
    s.received += data.length;
    if (arg.close) s.closed = true;
    if (endpoint === 'append_v2') {
      if (got.cut) {
        rec.result = 'cut-after-commit';
        req.socket.destroy();
        return;
      }
      return this.json(res, 200, null);
    }
    const path = String(arg.commit?.path);
    if (this.commitConflict(path, arg.commit?.mode)) {
      rec.result = 'conflict';
      return this.routeError(res, { '.tag': 'path', path: { '.tag': 'conflict', conflict: { '.tag': 'file' } } }, 'path/conflict/file');
    }
    s.finished = true;
    const f = this.addFile(path, Buffer.concat(s.pieces));
    s.pieces = [];
    if (got.cut) {
      rec.result = 'cut-after-commit';
      req.socket.destroy();
      return;
    }
    this.json(res, 200, this.meta(f));
  }

  private commitConflict(path: string, mode: string | { '.tag': string } | undefined): boolean {
    const tag = typeof mode === 'string' ? mode : (mode?.['.tag'] ?? 'add');
    return tag === 'add' && this.files.has(path.toLowerCase());
  }
}

export async function startDropboxServer(opts: DropboxServerOptions): Promise<DropboxServer> {
  return new DropboxServer(opts).start();
}
