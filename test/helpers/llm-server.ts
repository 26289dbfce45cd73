/**
 * A loopback OpenAI-compatible server for the tests (127.0.0.1, random port): chat completions and
 * embeddings, with deterministic answers (a function of the prompt) and injectable faults: 429
 * (with Retry-After), 500, a hang (client timeout), a reset connection, a non-JSON body, malformed
 * JSON content, fenced JSON with prose, schema-violating JSON, and a missing `choices`.
 *
 * Also `runCli`, which runs the text commands in a child process (asynchronously, so this server
 * keeps answering): through dist/cli/main.js once it registers them, else through a small runner
 * around dist/cli/text-commands.js and dist/cli/demo.js.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../shared.js';

export type Fault = '429' | '500' | '503' | 'timeout' | 'reset' | 'html' | 'malformed' | 'fenced' | 'bad-schema' | 'no-choices' | '401' | '400';

export interface RecordedRequest {
  n: number;
  path: string;
  body: { model?: string; messages?: { role: string; content: string }[]; input?: string[]; [k: string]: unknown };
  authorization: string | undefined;
  apiKeyHeader: string | undefined;
  fault: Fault | null;
}

export interface LlmServer {
  /** base URL ending in /v1 */
  url: string;
  requests: RecordedRequest[];
  /** decides the fault of request n (1-based, counting every request) */
  faults: (n: number, path: string, body: RecordedRequest['body']) => Fault | null;
  close(): Promise<void>;
}

export interface LlmServerOptions {
  faults?: LlmServer['faults'];
  embedDim?: number;
  /** answer 401 unless Authorization is "Bearer <key>" */
  requireKey?: string;
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** What the mock "model" answers for a chat request: valid JSON of the task the prompt asks for. */
export function mockAnswer(messages: { role: string; content: string }[]): string {
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  const user = messages.filter((m) => m.role === 'user')[0]?.content ?? '';
  const h = hash(system + user).slice(0, 8);
  let title = '';
  try {
    const j = JSON.parse(user) as { title?: string; history?: { title: string }[] };
    title = j.title ?? j.history?.map((e) => e.title).slice(0, 2).join(' + ') ?? '';
  } catch {
    // not JSON: fine
  }
  if (system.includes('"attracts"')) {
    return JSON.stringify({ key_attributes: [`attr ${h}`], attracts: [`fans of ${title}`], does_not_suit: ['nobody in particular'], intent: `attracts fans of ${title} / does not suit people who avoid ${h}` });
  }
  if (!system.includes('"summarization"')) {
    return JSON.stringify({ key_attributes: [`attr ${h}`], liked: [title], disliked: ['noise'], intent: `likes ${title} / dislikes ${h}` });
  }
  return JSON.stringify({ summarization: `mock profile ${h}: ${title}`, reasoning: `hash ${h}` });
}

export function mockEmbedding(text: string, dim: number): number[] {
  const out: number[] = [];
  let seed = hash(text);
  while (out.length < dim) {
    for (let k = 0; k + 8 <= seed.length && out.length < dim; k += 8) out.push(parseInt(seed.slice(k, k + 8), 16) / 0xffffffff - 0.5);
    seed = hash(seed);
  }
  const norm = Math.hypot(...out);
  return out.map((x) => x / norm);
}

export async function startLlmServer(o: LlmServerOptions = {}): Promise<LlmServer> {
  const sockets = new Set<Socket>();
  const hung: ServerResponse[] = [];
  const dim = o.embedDim ?? 16;
  let n = 0;
  const state: LlmServer = {
    url: '',
    requests: [],
    faults: o.faults ?? (() => null),
    close: async () => {
      for (const r of hung) r.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const path = (req.url ?? '').split('?')[0]!;
    let body: RecordedRequest['body'] = {};
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 400, { error: { message: 'body is not JSON' } });
    }
    const num = ++n;
    const fault = state.faults(num, path, body);
    state.requests.push({ n: num, path, body, authorization: req.headers.authorization, apiKeyHeader: req.headers['api-key'] as string | undefined, fault });
    if (o.requireKey !== undefined && req.headers.authorization !== `Bearer ${o.requireKey}`) {
      return send(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } });
    }
    switch (fault) {
      case '429':
        return send(res, 429, { error: { message: 'Rate limit reached' } }, { 'retry-after': '0' });
      case '500':
      case '503':
        return send(res, Number(fault), { error: { message: 'The server had an error' } });
      case '401':
        return send(res, 401, { error: { message: 'Incorrect API key provided' } });
      case '400':
        return send(res, 400, { error: { message: 'context length exceeded' } });
      case 'timeout':
        hung.push(res);
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>bad gateway</html>');
        return;
      default:
        break;
    }
    if (path.endsWith('/chat/completions')) {
      const messages = body.messages ?? [];
      let content = mockAnswer(messages);
      if (fault === 'malformed') content = content.slice(0, Math.floor(content.length / 2));
      if (fault === 'fenced') content = `Sure! Here is the JSON:\n\`\`\`json\n${content.replace(/}$/, ',}')}\n\`\`\`\nHope this helps.`;
      if (fault === 'bad-schema') content = JSON.stringify({ answer: 'no schema here' });
      if (fault === 'no-choices') return send(res, 200, { id: 'x', object: 'chat.completion', choices: [] });
      const promptChars = messages.reduce((a, m) => a + m.content.length, 0);
      return send(res, 200, {
        id: `chatcmpl-${num}`,
        object: 'chat.completion',
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: Math.ceil(promptChars / 4), completion_tokens: Math.ceil(content.length / 4), total_tokens: 0 },
      });
    }
    if (path.endsWith('/embeddings')) {
      const input = Array.isArray(body.input) ? body.input : [String(body.input)];
      return send(res, 200, {
        object: 'list',
        model: body.model,
        data: input.map((t, index) => ({ object: 'embedding', index, embedding: mockEmbedding(String(t), typeof body.dimensions === 'number' ? body.dimensions : dim) })),
        usage: { prompt_tokens: input.reduce((a, t) => a + Math.ceil(String(t).length / 4), 0), total_tokens: 0 },
      });
    }
    return send(res, 404, { error: { message: `no route ${path}` } });
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const addr = server.address();
  state.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/v1`;
  return state;
}

/** A batch output line for one request line, as the OpenAI Batch API / vllm run-batch would write it. */
export function mockBatchOutput(requestLine: string): string {
  const r = JSON.parse(requestLine) as { custom_id: string; body: { messages: { role: string; content: string }[]; model: string } };
  const content = mockAnswer(r.body.messages);
  return JSON.stringify({
    id: `batch_req_${r.custom_id.slice(0, 8)}`,
    custom_id: r.custom_id,
    response: { status_code: 200, request_id: 'req', body: { id: 'c', object: 'chat.completion', model: r.body.model, choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 5 } } },
    error: null,
  });
}

// ------------------------------------------------------------------------------------ the CLI

let runner: string | null = null;

/** The command line to run `irllrec` (compiled): main.js if it has the text commands, else a runner. */
function cliEntry(): string {
  const main = join(repoRoot, 'dist', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build:ts" first`);
  // main.js once it registers the text commands and the demo with its options (registerDemoCommand)
  const src = readFileSync(main, 'utf8');
  if (src.includes('registerTextCommands(') && src.includes('registerDemoCommand(')) return main;
  if (runner) return runner;
  const dir = mkdtempSync(join(tmpdir(), 'irllrec-cli-'));
  runner = join(dir, 'cli.mjs');
  const dist = (p: string) => JSON.stringify(`file://${join(repoRoot, 'dist', p)}`);
  writeFileSync(
    runner,
    `import { createRequire } from 'node:module';\n` +
      `const require = createRequire(${JSON.stringify(join(repoRoot, 'package.json'))});\n` +
      `const { Command } = require('commander');\n` +
      `const { registerTextCommands } = await import(${dist('cli/text-commands.js')});\n` +
      `const { registerDemoCommand } = await import(${dist('cli/demo.js')});\n` +
      `const program = new Command().name('irllrec');\n` +
      `registerTextCommands(program);\n` +
      `registerDemoCommand(program);\n` +
      `program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));\n` +
      `await program.parseAsync(process.argv);\n`,
  );
  return runner;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 120_000): Promise<CliResult> {
  const entry = cliEntry();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], { env: { ...process.env, IRLLREC_NO_PROGRESS: '1', IRLLREC_FAULT: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`irllrec ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
