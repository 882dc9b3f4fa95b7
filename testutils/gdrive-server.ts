import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, createVerify, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

/**
 * A small local stand-in for the Google Drive v3 API, speaking the wire protocol the googleapis SDK and our resumable
 * uploader use, and checking requests the way Google does: the JWT-bearer token grant (RS256 signature against the
 * service account's key, issuer, audience, expiry, scope), a Bearer token issued here on every API call, resumable
 * chunks that are contiguous and multiples of 256 KiB except the last. Faults: `cutUploadAt(offset)` drops the
 * connection when an upload's received bytes cross `offset`; the server then keeps what it received rounded down to
 * 256 KiB, as Google keeps a prefix of a broken chunk.
 */

export const GOOGLE_TOKEN_AUD = 'https://oauth2.googleapis.com/token';
const QUANTUM = 256 * 1024;

export interface DriveFile {
  id: string;
  name: string;
  parents: string[];
  mimeType: string;
  data: Buffer;
  md5: string;
  createdTime: string;
  modifiedTime: string;
}

interface Session {
  id: string;
  name: string;
  parents: string[];
  mimeType: string;
  pieces: Buffer[];
  received: number;
  file?: DriveFile;
}

/** One PUT to an upload session, as the server saw it. */
export interface ChunkRecord {
  session: string;
  /** First byte offset claimed by Content-Range (undefined for a status query). */
  start?: number;
  /** Bytes the request declared. */
  length: number;
  /** Bytes the server kept from this request. */
  kept: number;
  /** The connection was cut by fault injection during this request. */
  cut: boolean;
  query: boolean;
  status: number;
}

export interface GDriveServerOptions {
  /** Service accounts allowed to get tokens: e-mail → public key PEM. */
  accounts: Record<string, string>;
  /** Folder ids that exist. */
  folders: string[];
  /** Largest page files.list returns (to exercise pagination). */
  maxPageSize?: number;
  tokenTtlSeconds?: number;
}

export class GDriveServer {
  url = '';
  readonly files = new Map<string, DriveFile>();
  readonly sessions = new Map<string, Session>();
  readonly chunks: ChunkRecord[] = [];
  readonly tokens = new Map<string, number>();
  tokensIssued = 0;
  rejectedAuth = 0;
  readonly requests: Array<{ method: string; path: string }> = [];
  private cuts: number[] = [];
  private readonly server: Server;
  private seq = 0;

  constructor(private readonly opts: GDriveServerOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) this.error(res, 500, `internal error in the fake: ${(err as Error).message}`);
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

  /** Drop the connection of the upload PUT that carries absolute byte `offset` (once per call). */
  cutUploadAt(...offsets: number[]): void {
    this.cuts.push(...offsets);
    this.cuts.sort((a, b) => a - b);
  }

  /** Files in a folder, by name (not trashed). */
  filesIn(folder: string): DriveFile[] {
    return [...this.files.values()].filter((f) => f.parents.includes(folder));
  }

  addFile(folder: string, name: string, data: Buffer, createdTime = new Date()): DriveFile {
    const f: DriveFile = {
      id: this.newId('f'),
      name,
      parents: [folder],
      mimeType: 'application/octet-stream',
      data,
      md5: createHash('md5').update(data).digest('hex'),
      createdTime: createdTime.toISOString(),
      modifiedTime: createdTime.toISOString(),
    };
    this.files.set(f.id, f);
    return f;
  }

  private newId(prefix: string): string {
    return `${prefix}${++this.seq}${randomBytes(6).toString('hex')}`;
  }

  private error(res: ServerResponse, code: number, message: string, reason = 'badRequest'): void {
    const status = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND' }[code] ?? 'INTERNAL';
    this.json(res, code, { error: { code, message, errors: [{ domain: 'global', reason, message }], status } });
  }

  private json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private meta(f: DriveFile) {
    return {
      kind: 'drive#file',
      id: f.id,
      name: f.name,
      mimeType: f.mimeType,
      parents: f.parents,
      size: String(f.data.length),
      md5Checksum: f.md5,
      createdTime: f.createdTime,
      modifiedTime: f.modifiedTime,
    };
  }

  private async body(req: IncomingMessage): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const p of req) parts.push(p as Buffer);
    return Buffer.concat(parts);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname });
    if (method === 'POST' && url.pathname === '/token') return this.token(req, res);
    if (!this.authorised(req)) {
      req.resume();
      this.rejectedAuth++;
      return this.error(res, 401, 'Request had invalid authentication credentials. Expected OAuth 2 access token.', 'authError');
    }
    const fileMatch = /^\/drive\/v3\/files\/([^/]+)$/.exec(url.pathname);
    if (url.pathname === '/drive/v3/files' && method === 'GET') return this.list(url, res);
    if (fileMatch && method === 'GET') return this.get(fileMatch[1]!, url, req, res);
    if (fileMatch && method === 'DELETE') {
      const ok = this.files.delete(fileMatch[1]!);
      if (!ok) return this.error(res, 404, `File not found: ${fileMatch[1]}.`, 'notFound');
      res.writeHead(204).end();
      return;
    }
    if (fileMatch && method === 'PATCH') {
      const f = this.files.get(fileMatch[1]!);
      const patch = JSON.parse((await this.body(req)).toString() || '{}') as { name?: string };
      if (!f) return this.error(res, 404, `File not found: ${fileMatch[1]}.`, 'notFound');
      if (patch.name) f.name = patch.name;
      f.modifiedTime = new Date().toISOString();
      return this.json(res, 200, this.meta(f));
    }
    if (url.pathname === '/upload/drive/v3/files' && method === 'POST') return this.startSession(url, req, res);
    if (url.pathname === '/upload/drive/v3/files' && method === 'PUT') return this.putChunk(url, req, res);
    req.resume();
    this.error(res, 404, `The fake has no route for ${method} ${url.pathname}.`, 'notFound');
  }

  private authorised(req: IncomingMessage): boolean {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const exp = m ? this.tokens.get(m[1]!) : undefined;
    return exp !== undefined && exp > Date.now();
  }

  private async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams((await this.body(req)).toString());
    const bad = (desc: string) => this.json(res, 400, { error: 'invalid_grant', error_description: desc });
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return this.json(res, 400, { error: 'unsupported_grant_type', error_description: 'Invalid grant_type.' });
    }
    const parts = (form.get('assertion') ?? '').split('.');
    if (parts.length !== 3) return bad('Invalid JWT.');
    let header: { alg?: string };
    let claims: { iss?: string; aud?: string; exp?: number; iat?: number; scope?: string };
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString());
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString());
    } catch {
      return bad('Invalid JWT.');
    }
    if (header.alg !== 'RS256') return bad('Invalid JWT: unsupported alg.');
    const key = claims.iss ? this.opts.accounts[claims.iss] : undefined;
    if (!key) return bad('Invalid grant: account not found');
    const verifier = createVerify('RSA-SHA256').update(`${parts[0]}.${parts[1]}`);
    if (!verifier.verify(key, Buffer.from(parts[2]!, 'base64url'))) return bad('Invalid JWT Signature.');
    const now = Math.floor(Date.now() / 1000);
    if (claims.aud !== GOOGLE_TOKEN_AUD) return bad('Invalid JWT: audience.');
    if (!claims.exp || !claims.iat || claims.exp < now || claims.iat > now + 300 || claims.exp - claims.iat > 3600) {
      return bad('Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    }
    if (!(claims.scope ?? '').split(' ').some((s) => s.startsWith('https://www.googleapis.com/auth/drive'))) {
      return this.json(res, 400, { error: 'invalid_scope', error_description: 'Invalid OAuth scope or ID token audience provided.' });
    }
    const ttl = this.opts.tokenTtlSeconds ?? 3600;
    const token = `ya29.fake-${randomBytes(16).toString('hex')}`;
    this.tokens.set(token, Date.now() + ttl * 1000);
    this.tokensIssued++;
    this.json(res, 200, { access_token: token, expires_in: ttl, token_type: 'Bearer' });
  }

  private list(url: URL, res: ServerResponse): void {
    const q = url.searchParams.get('q') ?? '';
    let pred: (f: DriveFile) => boolean;
    try {
      pred = parseQuery(q);
    } catch (err) {
      return this.error(res, 400, `Invalid Value: ${(err as Error).message}`, 'invalid');
    }
    const all = [...this.files.values()].filter(pred);
    const max = this.opts.maxPageSize ?? 1000;
    const pageSize = Math.min(Number(url.searchParams.get('pageSize') ?? 100) || 100, max);
    const start = Number(url.searchParams.get('pageToken') ?? '0');
    const page = all.slice(start, start + pageSize);
    const body: { kind: string; files: unknown[]; nextPageToken?: string } = {
      kind: 'drive#fileList',
      files: page.map((f) => this.meta(f)),
    };
    if (start + pageSize < all.length) body.nextPageToken = String(start + pageSize);
    this.json(res, 200, body);
  }

  private get(id: string, url: URL, req: IncomingMessage, res: ServerResponse): void {
    const f = this.files.get(id);
    if (!f) {
      if (this.opts.folders.includes(id) && url.searchParams.get('alt') !== 'media') {
        return this.json(res, 200, { kind: 'drive#file', id, name: id, mimeType: 'application/vnd.google-apps.folder' });
      }
      return this.error(res, 404, `File not found: ${id}.`, 'notFound');
    }
    if (url.searchParams.get('alt') !== 'media') return this.json(res, 200, this.meta(f));
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      const from = Number(range[1]);
      const to = range[2] ? Math.min(Number(range[2]), f.data.length - 1) : f.data.length - 1;
      if (from >= f.data.length) {
        res.writeHead(416, { 'content-range': `bytes */${f.data.length}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-type': f.mimeType,
        'content-length': to - from + 1,
        'content-range': `bytes ${from}-${to}/${f.data.length}`,
      });
      res.end(f.data.subarray(from, to + 1));
      return;
    }
    res.writeHead(200, { 'content-type': f.mimeType, 'content-length': f.data.length });
    res.end(f.data);
  }

  private async startSession(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = (await this.body(req)).toString();
    if (url.searchParams.get('uploadType') !== 'resumable') {
      return this.error(res, 400, 'The fake only implements uploadType=resumable.');
    }
    let meta: { name?: string; parents?: string[]; mimeType?: string };
    try {
      meta = JSON.parse(raw || '{}');
    } catch {
      return this.error(res, 400, 'Invalid JSON payload received.');
    }
    const parents = meta.parents ?? [];
    for (const p of parents) {
      if (!this.opts.folders.includes(p)) return this.error(res, 404, `File not found: ${p}.`, 'notFound');
    }
    const s: Session = {
      id: this.newId('s'),
      name: meta.name ?? 'Untitled',
      parents,
      mimeType: meta.mimeType ?? String(req.headers['x-upload-content-type'] ?? 'application/octet-stream'),
      pieces: [],
      received: 0,
    };
    this.sessions.set(s.id, s);
    const host = req.headers.host ?? '127.0.0.1';
    res.writeHead(200, {
      location: `http://${host}/upload/drive/v3/files?uploadType=resumable&upload_id=${s.id}`,
      'content-length': 0,
    });
    res.end();
  }

  private rangeHeader(s: Session): Record<string, string> {
    return s.received > 0 ? { range: `bytes=0-${s.received - 1}` } : {};
  }

  private finish(s: Session, res: ServerResponse): void {
    if (!s.file) {
      const data = Buffer.concat(s.pieces);
      s.pieces = [data];
      const now = new Date().toISOString();
      s.file = {
        id: this.newId('f'),
        name: s.name,
        parents: s.parents,
        mimeType: s.mimeType,
        data,
        md5: createHash('md5').update(data).digest('hex'),
        createdTime: now,
        modifiedTime: now,
      };
      this.files.set(s.file.id, s.file);
    }
    this.json(res, 200, this.meta(s.file));
  }

  private truncate(s: Session, to: number): void {
    const all = Buffer.concat(s.pieces).subarray(0, to);
    s.pieces = [Buffer.from(all)];
    s.received = to;
  }

  private async putChunk(url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const s = this.sessions.get(url.searchParams.get('upload_id') ?? '');
    if (!s) {
      req.resume();
      return this.error(res, 404, 'Upload session not found or expired.', 'notFound');
    }
    const cr = String(req.headers['content-range'] ?? '');
    const declared = Number(req.headers['content-length'] ?? '0');
    const m = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(cr);
    if (!m) {
      req.resume();
      return this.error(res, 400, `Invalid Content-Range header "${cr}".`);
    }
    const total = m[3] === '*' ? undefined : Number(m[3]);
    if (m[1] === undefined) {
      // Status query (`*/*`) or finalisation without data (`*/TOTAL`).
      await this.body(req);
      if (s.file) return this.finish(s, res);
      if (total !== undefined) {
        if (total !== s.received) {
          this.chunks.push({ session: s.id, length: 0, kept: 0, cut: false, query: true, status: 400 });
          return this.error(res, 400, `Declared total ${total} but ${s.received} bytes were received.`);
        }
        this.chunks.push({ session: s.id, length: 0, kept: 0, cut: false, query: true, status: 200 });
        return this.finish(s, res);
      }
      this.chunks.push({ session: s.id, length: 0, kept: 0, cut: false, query: true, status: 308 });
      res.writeHead(308, { ...this.rangeHeader(s), 'content-length': 0 }).end();
      return;
    }
    const start = Number(m[1]);
    const end = Number(m[2]);
    const length = end - start + 1;
    const rec: ChunkRecord = { session: s.id, start, length, kept: 0, cut: false, query: false, status: 0 };
    this.chunks.push(rec);
    const reject = (msg: string) => {
      req.resume();
      rec.status = 400;
      this.error(res, 400, msg);
    };
    if (s.file) {
      req.resume();
      rec.status = 200;
      return this.finish(s, res);
    }
    if (length <= 0 || declared !== length) return reject(`Content-Range declares ${length} bytes but Content-Length is ${declared}.`);
    if (start !== s.received) return reject(`Invalid request. Chunk starts at ${start} but the session has ${s.received} bytes.`);
    const isLast = total !== undefined && end + 1 === total;
    if (total !== undefined && end + 1 > total) return reject(`Chunk ends at ${end + 1} beyond the declared total ${total}.`);
    if (!isLast && length % QUANTUM !== 0) {
      return reject(
        "Invalid request. The number of bytes uploaded is required to be equal or greater than 262144, except for the final request (it's recommended to be the exact multiple of 262144).",
      );
    }
    let got = 0;
    const cut = await new Promise<boolean>((resolve) => {
      let done = false;
      req.on('data', (piece: Buffer) => {
        if (done) return;
        const cutAt = this.cuts[0];
        const room = length - got;
        let take = piece.subarray(0, room);
        if (cutAt !== undefined && s.received < cutAt && s.received + take.length >= cutAt) {
          take = take.subarray(0, cutAt - s.received);
          this.cuts.shift();
          s.pieces.push(Buffer.from(take));
          s.received += take.length;
          got += take.length;
          done = true;
          // Google keeps a prefix of a broken chunk; this fake keeps whole 256 KiB units of it.
          this.truncate(s, Math.floor(s.received / QUANTUM) * QUANTUM);
          req.socket.destroy();
          resolve(true);
          return;
        }
        s.pieces.push(Buffer.from(take));
        s.received += take.length;
        got += take.length;
      });
      req.on('end', () => {
        if (!done) {
          done = true;
          resolve(false);
        }
      });
      req.on('close', () => {
        if (!done) {
          // The client went away mid-chunk: keep whole 256 KiB units.
          done = true;
          this.truncate(s, Math.floor(s.received / QUANTUM) * QUANTUM);
          resolve(true);
        }
      });
    });
    rec.kept = s.received - start;
    rec.cut = cut;
    if (cut) return;
    if (got !== length) {
      this.truncate(s, start);
      rec.status = 400;
      return this.error(res, 400, `Chunk declared ${length} bytes but carried ${got}.`);
    }
    if (isLast) {
      rec.status = 200;
      return this.finish(s, res);
    }
    rec.status = 308;
    res.writeHead(308, { ...this.rangeHeader(s), 'content-length': 0 }).end();
  }
}

/** Parses the subset of the Drive query language our backend sends. */
export function parseQuery(q: string): (f: DriveFile) => boolean {
  const preds: Array<(f: DriveFile) => boolean> = [];
  let rest = q.trim();
  const str = String.raw`'((?:[^'\\]|\\.)*)'`;
  const unescape = (s: string) => s.replace(/\\(.)/g, '$1');
  while (rest) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^${str}\\s+in\\s+parents`).exec(rest))) {
      const id = unescape(m[1]!);
      preds.push((f) => f.parents.includes(id));
    } else if ((m = new RegExp(`^name\\s*=\\s*${str}`).exec(rest))) {
      const name = unescape(m[1]!);
      preds.push((f) => f.name === name);
    } else if ((m = new RegExp(`^name\\s+contains\\s+${str}`).exec(rest))) {
      const part = unescape(m[1]!);
      preds.push((f) => f.name.includes(part));
    } else if ((m = /^trashed\s*=\s*(true|false)/.exec(rest))) {
      const want = m[1] === 'true';
      preds.push(() => !want);
    } else if ((m = new RegExp(`^mimeType\\s*(!=|=)\\s*${str}`).exec(rest))) {
      const neg = m[1] === '!=';
      const mt = unescape(m[2]!);
      preds.push((f) => (f.mimeType === mt) !== neg);
    } else {
      throw new Error(`cannot parse query at "${rest.slice(0, 40)}"`);
    }
    rest = rest.slice(m[0].length).trim();
    if (rest) {
      const and = /^and\s+/.exec(rest);
      if (!and) throw new Error(`expected "and" at "${rest.slice(0, 40)}"`);
      rest = rest.slice(and[0].length);
    }
  }
  return (f) => preds.every((p) => p(f));
}

export async function startGDriveServer(opts: GDriveServerOptions): Promise<GDriveServer> {
  return new GDriveServer(opts).start();
}
