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
 * Answers are JSON. Errors are {"error": {"code", "message"}} with 400 (malformed body, nested
 * deeper than 32 levels, unknown field, k out of range, ...), 404 (unknown user/item/route), 405
 * (wrong method), 413 (body too large, or more work than `max_cost`), 415 (not JSON), 422 (the
 * model cannot do it, e.g. text cold start without a text tower), 500 (a bug: logged, the process
 * keeps serving). No request can take the process down, and none holds the event loop: the work of
 * /recommend and /similar is bounded (users x k, an explanation counting EXPLAIN_WEIGHT, at most
 * `max_cost`) and done in turns of ~10 ms, one turn per event-loop iteration across all requests,
 * so /health answers within a turn while the largest request is served. Error messages show at
 * most ~100 characters of any value the client sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../util/errors.js';
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
  /**
   * most work per /recommend or /similar request, in results: users (items) x k, an explanation
   * counting EXPLAIN_WEIGHT results (default 250,000: 250 users x k 1000, 1000 users x k 250, or
   * 1000 explanations); above it the answer is 413
   */
  maxCost?: number;
  /** milliseconds of work per turn before yielding the event loop (default 10) */
  turnMs?: number;
  /** one line per request (method, path, status, ms) */
  accessLog?: (line: string) => void;
  /** where internal errors are reported (default stderr) */
  errorLog?: (line: string) => void;
}

/** A request the service refuses (bad body, unknown route, too much work): the client's error, a 4xx answer. */
class HttpError extends UserError {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

const bad = (msg: string) => new HttpError(400, 'invalid_argument', msg);

type Body = Record<string, unknown>;

/** What one explanation costs, in results (each ranks the item among all items; ~1.6 KB of JSON). */
export const EXPLAIN_WEIGHT = 250;
export const DEFAULT_MAX_COST = 250_000;
/** Deepest JSON nesting accepted in a request body (the largest valid request nests 3 levels). */
export const MAX_DEPTH = 32;

/** A value the client sent, for an error message: never more than ~100 characters, never recursive. */
export function shown(v: unknown): string {
  if (typeof v === 'string') return v.length > 100 ? `${JSON.stringify(v.slice(0, 100))}... (${v.length} characters)` : JSON.stringify(v);
  if (Array.isArray(v)) return `a list (of ${v.length})`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}

/** Cuts a message (which may quote ids the client sent) to `max` characters. */
function clip(s: string, max = 500): string {
  return s.length > max ? `${s.slice(0, max)}... (${s.length} characters)` : s;
}

/**
 * The deepest nesting of arrays and objects in JSON text (strings skipped), stopping early once
 * over `limit`: checked before JSON.parse, which would build any depth (and take 100 ms for 200,000 levels).
 */
function jsonDepth(text: string, limit: number): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 93 || c === 125) depth--;
  }
  return max;
}

// ------------------------------------------------------------------ cooperative scheduling

/**
 * Heavy work runs in turns: one turn per event-loop iteration for the whole process, requests
 * served first come first served, so that other requests (and /health) wait for one turn at most.
 */
const waiting: (() => void)[] = [];
let pumping = false;

function pump(): void {
  const next = waiting.shift();
  if (!next) {
    pumping = false;
    return;
  }
  next(); // its continuation runs (as a microtask) before the next iteration
  setImmediate(pump);
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!pumping) {
      pumping = true;
      setImmediate(pump);
    }
  });
}

/** The client went away: stop working on its request. */
class Cancelled extends Error {}

/** One request's heavy work: `step()` between small units yields once the turn's time is used. */
class Work {
  private deadline = 0;
  cancelled = false;

  constructor(readonly turnMs: number) {}

  async step(): Promise<void> {
    if (this.cancelled) throw new Cancelled();
    if (performance.now() < this.deadline) return;
    await nextTurn();
    if (this.cancelled) throw new Cancelled();
    this.deadline = performance.now() + this.turnMs;
  }
}

/**
 * A JSON answer built in pieces, UTF-8 encoded as they are made (in turns: encoding 10 MB at once
 * would take ~100 ms), then sent in turns; their concatenation is the JSON text.
 */
class JsonPieces {
  readonly pieces: Buffer[] = [];
  private sep = '';

  constructor(private readonly close: string, open: string) {
    this.pieces.push(Buffer.from(open));
  }

  /** Appends one element of the list. */
  item(v: unknown): void {
    this.pieces.push(Buffer.from(this.sep + JSON.stringify(v)));
    this.sep = ',';
  }

  done(): this {
    this.pieces.push(Buffer.from(this.close));
    return this;
  }
}

/**
 * Runs `fn` on consecutive slices [start, end) of n units, yielding between slices; slice sizes
 * adapt so that one takes well under a turn (doubling while fast, shrinking when slow).
 */
async function inSlices(work: Work, n: number, fn: (start: number, end: number) => void | Promise<void>, first = 1, max = 256): Promise<void> {
  let size = Math.max(1, Math.min(first, max));
  for (let s = 0; s < n;) {
    await work.step();
    const e = Math.min(n, s + size);
    const t = performance.now();
    await fn(s, e);
    const ms = performance.now() - t;
    if (ms < work.turnMs / 3) size = Math.min(max, size * 2);
    else if (ms > work.turnMs) size = Math.max(1, Math.floor((size * work.turnMs) / (2 * ms)));
    s = e;
  }
}

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
  const text = buf.toString('utf8');
  if (jsonDepth(text, MAX_DEPTH) > MAX_DEPTH) throw bad(`the request body nests arrays/objects deeper than ${MAX_DEPTH} levels`);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    if (form) throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json (form fields are not accepted)');
    throw bad(`the request body is not valid JSON (${clip((e as Error).message, 200)})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('the request body must be a JSON object');
  return v as Body;
}

function onlyKeys(b: Body, allowed: string[]): void {
  for (const k of Object.keys(b)) {
    if (!allowed.includes(k)) throw bad(`unknown field ${shown(k)} (accepted: ${allowed.join(', ')})`);
  }
}

function idList(v: unknown, name: string, max: number): Id[] {
  if (!Array.isArray(v)) throw bad(`${name} must be a list of ids`);
  if (v.length === 0) throw bad(`${name} is empty`);
  if (v.length > max) throw bad(`${name} has ${v.length} ids, at most ${max} per request`);
  for (const x of v) {
    if (!(typeof x === 'string' || (typeof x === 'number' && Number.isInteger(x)))) throw bad(`${name} must hold string (or integer) ids, got ${shown(x)}`);
  }
  return v as Id[];
}

function optIds(v: unknown, name: string, max: number): Id[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw bad(`${name} must be a list of item ids`);
  if (v.length > max) throw bad(`${name} has ${v.length} ids, at most ${max}`);
  for (const x of v) {
    if (!(typeof x === 'string' || (typeof x === 'number' && Number.isInteger(x)))) throw bad(`${name} must hold string (or integer) ids, got ${shown(x)}`);
  }
  return v as Id[];
}

function oneId(v: unknown, name: string): Id {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw bad(v === undefined ? `${name} is required` : `${name} must be a string id, got ${shown(v)}`);
}

function kOf(v: unknown, maxK: number, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > maxK) throw bad(`k must be an integer in [1, ${maxK}], got ${shown(v)}`);
  return n;
}

function boolOf(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (v === true || v === 'true' || v === '1') return true;
  if (v === false || v === 'false' || v === '0') return false;
  throw bad(`${name} must be true or false, got ${shown(v)}`);
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
  const maxCost = o.maxCost ?? DEFAULT_MAX_COST;
  const turnMs = o.turnMs ?? 10;
  const errorLog = o.errorLog ?? ((s: string) => process.stderr.write(`${s}\n`));
  const started = Date.now();
  let served = 0;

  type Handler = (req: IncomingMessage, q: URLSearchParams, work: Work) => Promise<unknown> | unknown;
  const routes: Record<string, Partial<Record<'GET' | 'POST', Handler>>> = {
    '/health': {
      GET: () => ({ status: 'ok', model: rec.model, users: rec.numUsers, items: rec.numItems, uptime_s: Math.round((Date.now() - started) / 1000), requests: served }),
    },
    '/info': {
      GET: () => ({
        ...rec.info,
        limits: { max_k: maxK, max_batch: maxBatch, max_body_bytes: maxBody, max_cost: maxCost, explain_weight: EXPLAIN_WEIGHT, max_depth: MAX_DEPTH },
      }),
    },
    '/recommend': {
      GET: (_req, q, work) => {
        onlyQuery(q, ['user', 'k', 'exclude_seen', 'explain']);
        const users = q.getAll('user');
        if (!users.length) throw bad('give at least one user: /recommend?user=ID');
        return recommend({ users, k: q.get('k') ?? undefined, exclude_seen: q.get('exclude_seen') ?? undefined, explain: q.get('explain') ?? undefined }, work);
      },
      POST: async (req, _q, work) => {
        const b = await jsonBody(req, maxBody);
        onlyKeys(b, ['user', 'users', 'k', 'exclude_seen', 'exclude', 'candidates', 'explain']);
        return recommend(b, work);
      },
    },
    '/similar': {
      GET: (_req, q, work) => {
        onlyQuery(q, ['item', 'k']);
        const items = q.getAll('item');
        if (!items.length) throw bad('give at least one item: /similar?item=ID');
        return similar({ items, k: q.get('k') ?? undefined }, work);
      },
      POST: async (req, _q, work) => {
        const b = await jsonBody(req, maxBody);
        onlyKeys(b, ['item', 'items', 'k', 'exclude', 'candidates']);
        return similar(b, work);
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
        if (b.strategy !== undefined && b.strategy !== 'tower' && b.strategy !== 'neighbors') throw bad(`strategy must be "tower" or "neighbors", got ${shown(b.strategy)}`);
        const opts: ColdStartOptions = { k: kOf(b.k, maxK, 10), exclude: optIds(b.exclude, 'exclude', 100_000), candidates: optIds(b.candidates, 'candidates', 100_000) };
        if (b.strategy) opts.strategy = b.strategy as 'tower' | 'neighbors';
        if (input.text === undefined && input.vectors === undefined && input.items === undefined) throw bad('give "text", "vectors" or "items"');
        return rec.coldStart(input, opts);
      },
    },
  };

  function onlyQuery(q: URLSearchParams, allowed: string[]): void {
    for (const k of q.keys()) if (!allowed.includes(k)) throw bad(`unknown query parameter ${shown(k)} (accepted: ${allowed.join(', ')})`);
  }

  /** 413 when a request asks for more than max_cost results (an explanation counting EXPLAIN_WEIGHT). */
  function checkCost(n: number, what: string, k: number, explain: boolean): void {
    const cost = n * k * (explain ? EXPLAIN_WEIGHT : 1);
    if (cost <= maxCost) return;
    const asked = `${n} ${what}${n > 1 ? 's' : ''} x k ${k}${explain ? ` with explanations (each counts ${EXPLAIN_WEIGHT})` : ''}`;
    throw new HttpError(413, 'too_much_work', `the request asks for ${asked} = ${cost.toLocaleString('en-US')} results, over the limit of ` +
      `${maxCost.toLocaleString('en-US')} per request (max_cost): ask for fewer ${what}s or a smaller k${explain ? ', or without explain' : ''}, in several requests`);
  }

  /** Unique ids (the first of each): the lists are resolved once per slice. */
  const uniq = (ids: Id[] | undefined) => (ids === undefined ? undefined : [...new Set(ids)]);

  /** Unknown ids are named before any work (the same message as Recommender.recommend / similarItems). */
  function known(ids: Id[], what: 'user' | 'item', has: (id: Id) => boolean, where = ''): void {
    const missing = [...new Set(ids.filter((id) => !has(id)).map(String))];
    if (!missing.length) return;
    throw new NotFoundError(`unknown ${what}${missing.length > 1 ? 's' : ''}${where}: ${missing.slice(0, 5).map((m) => JSON.stringify(m)).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`, missing);
  }

  async function recommend(b: Body, work: Work): Promise<JsonPieces> {
    if (b.user !== undefined && b.users !== undefined) throw bad('give "user" or "users", not both');
    const users = b.users !== undefined ? idList(b.users, 'users', maxBatch) : [oneId(b.user, 'user (or users)')];
    const o: RecommendOptions = { k: kOf(b.k, maxK, 10), exclude: uniq(optIds(b.exclude, 'exclude', 100_000)), candidates: uniq(optIds(b.candidates, 'candidates', 100_000)) };
    const es = excludeSeenOf(b.exclude_seen);
    if (es !== undefined) o.excludeSeen = es;
    const explain = boolOf(b.explain, 'explain') ?? false;
    checkCost(users.length, 'user', o.k!, explain);
    known(users, 'user', (id) => rec.hasUser(id));
    const out = new JsonPieces(']}', '{"results":[');
    await inSlices(work, users.length, async (s, e) => {
      const res = rec.recommend(users.slice(s, e), o);
      for (const r of res) {
        if (!explain) {
          out.item(r);
          continue;
        }
        const explanations = [];
        for (const it of r.items) {
          await work.step();
          explanations.push(rec.explain(r.user, it.item));
        }
        await work.step();
        out.item({ ...r, explanations });
      }
    }, 1, explain ? 1 : 256);
    return out.done();
  }

  async function similar(b: Body, work: Work): Promise<JsonPieces> {
    if (b.item !== undefined && b.items !== undefined) throw bad('give "item" or "items", not both');
    const items = b.items !== undefined ? idList(b.items, 'items', maxBatch) : [oneId(b.item, 'item (or items)')];
    const o = { k: kOf(b.k, maxK, 10), exclude: uniq(optIds(b.exclude, 'exclude', 100_000)), candidates: uniq(optIds(b.candidates, 'candidates', 100_000)) };
    checkCost(items.length, 'item', o.k, false);
    known(items, 'item', (id) => rec.hasItem(id), ' in items');
    const out = new JsonPieces(']}', '{"results":[');
    await inSlices(work, items.length, (s, e) => {
      for (const r of rec.similarItems(items.slice(s, e), o)) out.item(r);
    });
    return out.done();
  }

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.headersSent || res.destroyed) return;
    const s = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(s), ...headers });
    res.end(s);
  };

  /** A large answer: written ~64 KiB at a time, in turns, waiting for the client to take it in. */
  const sendPieces = async (res: ServerResponse, body: JsonPieces, work: Work) => {
    if (res.headersSent || res.destroyed) return;
    const CHUNK = 1 << 16;
    let total = 0;
    for (const p of body.pieces) total += p.length;
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': total });
    // consecutive small pieces go out together, large ones in CHUNK slices
    const chunks = (function* () {
      let batch: Buffer[] = [];
      let size = 0;
      for (const p of body.pieces) {
        for (let off = 0; off < p.length; off += CHUNK) {
          const part = off === 0 && p.length <= CHUNK ? p : p.subarray(off, off + CHUNK);
          batch.push(part);
          size += part.length;
          if (size >= CHUNK) {
            yield batch.length === 1 ? batch[0]! : Buffer.concat(batch, size);
            batch = [];
            size = 0;
          }
        }
      }
      if (size) yield Buffer.concat(batch, size);
    })();
    for (const chunk of chunks) {
      const ok = res.write(chunk);
      if (!ok) {
        await new Promise<void>((done) => {
          const end = () => {
            res.off('drain', end);
            res.off('close', end);
            done();
          };
          res.on('drain', end);
          res.on('close', end);
        });
      }
      await work.step();
    }
    res.end();
  };

  return (req, res) => {
    const t0 = performance.now();
    served++;
    const work = new Work(turnMs);
    res.on('error', () => undefined);
    req.on('error', () => undefined);
    // the client went away before the answer was complete: stop working on it
    res.on('close', () => {
      if (!res.writableFinished) work.cancelled = true;
    });
    let path = '/';
    const finish = (status: number) => {
      o.accessLog?.(`${req.method} ${req.url} ${status} ${(performance.now() - t0).toFixed(2)}ms`);
    };
    (async () => {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
      } catch {
        throw bad(`malformed request target ${shown(req.url)}`);
      }
      path = url.pathname.replace(/\/+$/, '') || '/';
      const route = routes[path];
      if (!route) throw new HttpError(404, 'not_found', `no route ${req.method} ${path} (routes: ${Object.keys(routes).join(', ')})`);
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const h = route[method as 'GET' | 'POST'];
      if (!h) throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${path} (use ${Object.keys(route).join(' or ')})`, { allow: Object.keys(route).join(', ') });
      return h(req, url.searchParams, work);
    })()
      .then(async (body) => {
        if (body instanceof JsonPieces) await sendPieces(res, body, work);
        else send(res, 200, body);
        finish(200);
      })
      .catch((e: unknown) => {
        if (e instanceof Cancelled) {
          res.destroy();
          finish(499);
          return;
        }
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
          errorLog(`irllrec serve: internal error on ${req.method} ${clip(req.url ?? '', 200)}: ${(e as Error)?.stack ?? String(e)}`);
        }
        if (res.headersSent) {
          // failed half way through a large answer: the client sees a cut connection, not a wrong body
          res.destroy();
          finish(status);
          return;
        }
        const ids = e instanceof NotFoundError && e.ids.length ? { ids: e.ids.slice(0, 20).map((id) => clip(id, 100)) } : {};
        send(res, status, { error: { code, message: clip(message), ...ids } }, headers);
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


