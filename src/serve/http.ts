/**
 * The HTTP JSON service over a Recommender (node:http, no framework).
 *
 *   GET  /health                          liveness + what is loaded
 *   GET  /info                            the model, dataset, id sources, cold-start support
 *   GET  /recommend?user=ID[&user=ID...][&k=20][&exclude_seen=true|false|all][&explain=true]
 *   POST /recommend   {"user"|"users", "k", "exclude_seen", "exclude", "candidates", "explain"}
 *   GET  /similar?item=ID[&item=ID...][&k=10]
 *   POST /similar     {"item"|"items", "k", "exclude", "candidates"}
 *   GET  /explain?user=ID&item=ID
 *   POST /explain     {"user", "item"}
 *   POST /coldstart   {"text" | "vectors" | "items", "k", "exclude", "candidates", "strategy"}
 *
 * Answers are JSON. Errors are {"error": {"code", "message"}} with 400 (malformed body, unknown
 * field, k out of range, ...), 404 (unknown user/item/route), 405 (wrong method), 413 (body too
 * large), 415 (not JSON), 422 (the model cannot do it, e.g. text cold start without a text
 * tower), 500 (a bug: logged, the process keeps serving). No request can take the process down.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NotFoundError, RecommenderError } from './errors.js';
import type { ColdStartInput, ColdStartOptions, Id, RecommendOptions, Recommender } from './recommender.js';

export interface ServeOptions {
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** largest accepted request body (default 1 MiB) */
  maxBodyBytes?: number;
  /** most users/items per request (default 1000) */
  maxBatch?: number;
  /** largest k (default min(1000, number of items)) */
  maxK?: number;
  /** one line per request (method, path, status, ms) */
  accessLog?: (line: string) => void;
  /** where internal errors are reported (default stderr) */
  errorLog?: (line: string) => void;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const bad = (msg: string) => new HttpError(400, 'invalid_argument', msg);

type Body = Record<string, unknown>;

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const len = Number(req.headers['content-length']);
    if (Number.isFinite(len) && len > max) {
      reject(new HttpError(413, 'payload_too_large', `request body of ${len} bytes is over the limit of ${max} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > max) {
        done = true;
        reject(new HttpError(413, 'payload_too_large', `request body is over the limit of ${max} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!done) reject(new HttpError(400, 'bad_request', `could not read the request body (${e.message})`));
      done = true;
    });
  });
}

async function jsonBody(req: IncomingMessage, max: number): Promise<Body> {
  const ct = String(req.headers['content-type'] ?? '');
  // curl -d sends JSON labelled as a form: accept it when it is JSON after all
  const form = /^application\/x-www-form-urlencoded\b/i.test(ct);
  if (ct && !form && !/^application\/(.+\+)?json\b/i.test(ct) && !/^text\/plain\b/i.test(ct)) {
    throw new HttpError(415, 'unsupported_media_type', `send the body as application/json, not ${ct}`);
  }
  const buf = await readBody(req, max);
  if (buf.length === 0) throw bad('the request body is empty; send a JSON object');
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch (e) {
    if (form) throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json (form fields are not accepted)');
    throw bad(`the request body is not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('the request body must be a JSON object');
  return v as Body;
}

function onlyKeys(b: Body, allowed: string[]): void {
  for (const k of Object.keys(b)) {
    if (!allowed.includes(k)) throw bad(`unknown field "${k}" (accepted: ${allowed.join(', ')})`);
  }
}

function idList(v: unknown, name: string, max: number): Id[] {
  if (!Array.isArray(v)) throw bad(`${name} must be a list of ids`);
  if (v.length === 0) throw bad(`${name} is empty`);
  if (v.length > max) throw bad(`${name} has ${v.length} ids, at most ${max} per request`);
  for (const x of v) {
    if (!(typeof x === 'string' || (typeof x === 'number' && Number.isInteger(x)))) throw bad(`${name} must hold string (or integer) ids, got ${JSON.stringify(x)}`);
  }
  return v as Id[];
}

function optIds(v: unknown, name: string, max: number): Id[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw bad(`${name} must be a list of item ids`);
  if (v.length > max) throw bad(`${name} has ${v.length} ids, at most ${max}`);
  for (const x of v) {
    if (!(typeof x === 'string' || (typeof x === 'number' && Number.isInteger(x)))) throw bad(`${name} must hold string (or integer) ids, got ${JSON.stringify(x)}`);
  }
  return v as Id[];
}

function oneId(v: unknown, name: string): Id {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw bad(v === undefined ? `${name} is required` : `${name} must be a string id, got ${JSON.stringify(v)}`);
}

function kOf(v: unknown, maxK: number, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > maxK) throw bad(`k must be an integer in [1, ${maxK}], got ${JSON.stringify(v)}`);
  return n;
}

function boolOf(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === true || v === 'true' || v === '1') return true;
  if (v === false || v === 'false' || v === '0') return false;
  throw bad(`${name} must be true or false, got ${JSON.stringify(v)}`);
}

function excludeSeenOf(v: unknown): RecommendOptions['excludeSeen'] {
  if (v === 'all' || v === 'train') return v;
  const b = boolOf(v, 'exclude_seen (true, false or "all")');
  return b;
}

export interface RecommenderService {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The request handler (also usable with an existing http.Server). */
export function createHandler(rec: Recommender, o: ServeOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBody = o.maxBodyBytes ?? 1 << 20;
  const maxBatch = o.maxBatch ?? 1000;
  const maxK = Math.min(o.maxK ?? 1000, rec.numItems);
  const errorLog = o.errorLog ?? ((s: string) => process.stderr.write(`${s}\n`));
  const started = Date.now();
  let served = 0;

  const routes: Record<string, Partial<Record<'GET' | 'POST', (req: IncomingMessage, q: URLSearchParams) => Promise<unknown> | unknown>>> = {
    '/health': {
      GET: () => ({ status: 'ok', model: rec.model, users: rec.numUsers, items: rec.numItems, uptime_s: Math.round((Date.now() - started) / 1000), requests: served }),
    },
    '/info': { GET: () => ({ ...rec.info, limits: { max_k: maxK, max_batch: maxBatch, max_body_bytes: maxBody } }) },
    '/recommend': {
      GET: (_req, q) => {
        onlyQuery(q, ['user', 'k', 'exclude_seen', 'explain']);
        const users = q.getAll('user');
        if (!users.length) throw bad('give at least one user: /recommend?user=ID');
        return recommend({ users, k: q.get('k') ?? undefined, exclude_seen: q.get('exclude_seen') ?? undefined, explain: q.get('explain') ?? undefined });
      },
      POST: async (req) => {
        const b = await jsonBody(req, maxBody);
        onlyKeys(b, ['user', 'users', 'k', 'exclude_seen', 'exclude', 'candidates', 'explain']);
        return recommend(b);
      },
    },
    '/similar': {
      GET: (_req, q) => {
        onlyQuery(q, ['item', 'k']);
        const items = q.getAll('item');
        if (!items.length) throw bad('give at least one item: /similar?item=ID');
        return similar({ items, k: q.get('k') ?? undefined });
      },
      POST: async (req) => {
        const b = await jsonBody(req, maxBody);
        onlyKeys(b, ['item', 'items', 'k', 'exclude', 'candidates']);
        return similar(b);
      },
    },
    '/explain': {
      GET: (_req, q) => {
        onlyQuery(q, ['user', 'item']);
        return rec.explain(oneId(q.get('user') ?? undefined, 'user'), oneId(q.get('item') ?? undefined, 'item'));
      },
      POST: async (req) => {
        const b = await jsonBody(req, maxBody);
        onlyKeys(b, ['user', 'item']);
        return rec.explain(oneId(b.user, 'user'), oneId(b.item, 'item'));
      },
    },
    '/coldstart': {
      POST: async (req) => {
        const b = await jsonBody(req, maxBody);
        onlyKeys(b, ['text', 'vectors', 'items', 'k', 'exclude', 'candidates', 'strategy']);
        const input: ColdStartInput = {};
        if (b.text !== undefined) {
          if (typeof b.text === 'string') input.text = b.text;
          else if (b.text && typeof b.text === 'object' && !Array.isArray(b.text)) {
            const t = b.text as Body;
            onlyKeys(t, ['profile', 'intent']);
            for (const f of ['profile', 'intent']) if (t[f] !== undefined && typeof t[f] !== 'string') throw bad(`text.${f} must be a string`);
            input.text = t as { profile?: string; intent?: string };
          } else throw bad('text must be a string or {"profile": "...", "intent": "..."}');
        }
        if (b.vectors !== undefined) {
          if (!b.vectors || typeof b.vectors !== 'object' || Array.isArray(b.vectors)) throw bad('vectors must be {"profile": [numbers], "intent": [numbers]}');
          const v = b.vectors as Body;
          onlyKeys(v, ['profile', 'intent']);
          for (const f of ['profile', 'intent']) {
            if (v[f] !== undefined && (!Array.isArray(v[f]) || (v[f] as unknown[]).some((x) => typeof x !== 'number'))) throw bad(`vectors.${f} must be a list of numbers`);
          }
          input.vectors = v as { profile?: number[]; intent?: number[] };
        }
        if (b.items !== undefined) input.items = idList(b.items, 'items', maxBatch);
        if (b.strategy !== undefined && b.strategy !== 'tower' && b.strategy !== 'neighbors') throw bad(`strategy must be "tower" or "neighbors", got ${JSON.stringify(b.strategy)}`);
        const opts: ColdStartOptions = { k: kOf(b.k, maxK, 10), exclude: optIds(b.exclude, 'exclude', 100_000), candidates: optIds(b.candidates, 'candidates', 100_000) };
        if (b.strategy) opts.strategy = b.strategy as 'tower' | 'neighbors';
        if (input.text === undefined && input.vectors === undefined && input.items === undefined) throw bad('give "text", "vectors" or "items"');
        return rec.coldStart(input, opts);
      },
    },
  };

  function onlyQuery(q: URLSearchParams, allowed: string[]): void {
    for (const k of q.keys()) if (!allowed.includes(k)) throw bad(`unknown query parameter "${k}" (accepted: ${allowed.join(', ')})`);
  }

  function recommend(b: Body): unknown {
    if (b.user !== undefined && b.users !== undefined) throw bad('give "user" or "users", not both');
    const users = b.users !== undefined ? idList(b.users, 'users', maxBatch) : [oneId(b.user, 'user (or users)')];
    const o: RecommendOptions = { k: kOf(b.k, maxK, 10), exclude: optIds(b.exclude, 'exclude', 100_000), candidates: optIds(b.candidates, 'candidates', 100_000) };
    const es = excludeSeenOf(b.exclude_seen);
    if (es !== undefined) o.excludeSeen = es;
    const explain = boolOf(b.explain, 'explain');
    const results = rec.recommend(users, o);
    if (!explain) return { results };
    return { results: results.map((r) => ({ ...r, explanations: r.items.map((it) => rec.explain(r.user, it.item)) })) };
  }

  function similar(b: Body): unknown {
    if (b.item !== undefined && b.items !== undefined) throw bad('give "item" or "items", not both');
    const items = b.items !== undefined ? idList(b.items, 'items', maxBatch) : [oneId(b.item, 'item (or items)')];
    return { results: rec.similarItems(items, { k: kOf(b.k, maxK, 10), exclude: optIds(b.exclude, 'exclude', 100_000), candidates: optIds(b.candidates, 'candidates', 100_000) }) };
  }

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    const s = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(s), ...headers });
    res.end(s);
  };

  return (req, res) => {
    const t0 = performance.now();
    served++;
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    let path = '/';
    const finish = (status: number) => {
      o.accessLog?.(`${req.method} ${req.url} ${status} ${(performance.now() - t0).toFixed(2)}ms`);
    };
    (async () => {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
      } catch {
        throw bad(`malformed request target ${JSON.stringify(req.url)}`);
      }
      path = url.pathname.replace(/\/+$/, '') || '/';
      const route = routes[path];
      if (!route) throw new HttpError(404, 'not_found', `no route ${req.method} ${path} (routes: ${Object.keys(routes).join(', ')})`);
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const h = route[method as 'GET' | 'POST'];
      if (!h) throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${path} (use ${Object.keys(route).join(' or ')})`, { allow: Object.keys(route).join(', ') });
      return h(req, url.searchParams);
    })()
      .then((body) => {
        send(res, 200, body);
        finish(200);
      })
      .catch((e: unknown) => {
        let status = 500;
        let code = 'internal';
        let message = 'internal error (logged on the server)';
        let headers: Record<string, string> = {};
        if (e instanceof HttpError) {
          ({ status, code, message, headers } = e);
        } else if (e instanceof RecommenderError) {
          status = e.status;
          code = e.code;
          message = e.message;
        } else {
          errorLog(`irllrec serve: internal error on ${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}`);
        }
        send(res, status, { error: { code, message, ...(e instanceof NotFoundError && e.ids.length ? { ids: e.ids.slice(0, 20) } : {}) } }, headers);
        finish(status);
      })
      .catch(() => undefined);
  };
}

/** Starts the service; resolves once it listens. */
export function serveRecommender(rec: Recommender, o: ServeOptions = {}): Promise<RecommenderService> {
  const server = createServer({ keepAliveTimeout: 5000, requestTimeout: 30_000, headersTimeout: 20_000 }, createHandler(rec, o));
  server.on('clientError', (err, socket) => {
    if (socket.writable && !(err as NodeJS.ErrnoException).code?.startsWith('ECONNRESET')) {
      const body = JSON.stringify({ error: { code: 'bad_request', message: `malformed HTTP request (${err.message})` } });
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    } else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8080, o.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      server.on('error', (e) => (o.errorLog ?? ((s: string) => process.stderr.write(`${s}\n`)))(`irllrec serve: server error: ${e.message}`));
      const a = server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve({
        server,
        port: a.port,
        url: `http://${host}:${a.port}`,
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            server.closeIdleConnections?.();
          }),
      });
    });
  });
}


