/**
 * Exports a trained run's embeddings with their id maps:
 *
 * - `npy`: user_embeddings.npy (users x dim), item_embeddings.npy (items x dim), float32, plus
 *   intent prototypes (user_intents.npy, item_intents.npy: K x dim) when the model has them;
 * - `safetensors`: embeddings.safetensors with the same tensors by those names;
 * - `lancedb`: an embedded LanceDB database (tables `items` and `users`: id, title, vector) that a
 *   user queries with `@lancedb/lancedb` (optional dependency, 0.31.0): search an item table with a
 *   user vector and distanceType('dot') to get the model's ranking.
 *
 * Every format also writes users.tsv (`index\tid`), items.tsv (`index\tid\ttitle`) and export.json
 * (model, dataset, dim, scoring, files). npy/safetensors exports are written to a temporary
 * sibling directory and renamed into place when complete.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { writeNpy } from '../data/formats/numpy.js';
import { encodeSafetensors, type NamedArray } from '../util/safetensors.js';
import { RunError } from './errors.js';
import type { Recommender } from './recommender.js';

export const EXPORT_FORMATS = ['npy', 'safetensors', 'lancedb'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportSummary {
  format: ExportFormat;
  out: string;
  files: string[];
  users: number;
  items: number;
  dim: number;
}

const tsvSafe = (s: string) => s.replace(/[\t\r\n]+/g, ' ');

function idTables(rec: Recommender): { users: string; items: string } {
  const u: string[] = ['index\tid'];
  for (let i = 0; i < rec.numUsers; i++) u.push(`${i}\t${tsvSafe(rec.users.key(i))}`);
  const it: string[] = ['index\tid\ttitle'];
  for (let i = 0; i < rec.numItems; i++) it.push(`${i}\t${tsvSafe(rec.items.key(i))}\t${tsvSafe(rec.items.title(i) ?? '')}`);
  return { users: `${u.join('\n')}\n`, items: `${it.join('\n')}\n` };
}

function manifest(rec: Recommender, format: ExportFormat, files: string[]): string {
  const info = rec.info;
  return `${JSON.stringify({
    kind: 'irllrec-export', version: 1, format, created: new Date().toISOString(),
    model: info.model, dataset: info.dataset, run: info.run, users: info.users, items: info.items, dim: info.dim,
    intents: info.intents,
    scoring: 'score(user, item) = dot(user_embeddings[user], item_embeddings[item]); rank items by descending score, masking the user\'s training items',
    files,
  }, null, 2)}\n`;
}

/** Refuses to overwrite anything but an earlier export (or an empty directory). */
function checkOut(out: string, force: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new RunError(`--out ${out} exists and is not a directory`);
  const entries = readdirSync(out);
  if (entries.length === 0) return;
  if (!force) throw new RunError(`--out ${out} is not empty; pass --force to replace ${entries.includes('export.json') ? 'the earlier export' : 'it'}`);
  if (!entries.includes('export.json')) throw new RunError(`--out ${out} is not empty and holds no export.json: refusing to replace a directory that is not an irllrec export`);
}

export async function exportRun(rec: Recommender, format: ExportFormat, outArg: string, o: { force?: boolean } = {}): Promise<ExportSummary> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new RunError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${format}"`);
  const out = resolve(outArg);
  checkOut(out, Boolean(o.force));
  const { user, item, dim } = rec.embeddings();
  const ids = idTables(rec);
  const m = rec.intents;
  if (format === 'lancedb') return exportLance(rec, out, ids, Boolean(o.force));
  const parent = dirname(out);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(out)}.export-${process.pid}-${Date.now()}`);
  const files: string[] = [];
  try {
    mkdirSync(tmp);
    if (format === 'npy') {
      writeNpy(join(tmp, 'user_embeddings.npy'), [rec.numUsers, dim], user);
      writeNpy(join(tmp, 'item_embeddings.npy'), [rec.numItems, dim], item);
      files.push('user_embeddings.npy', 'item_embeddings.npy');
      if (m) {
        writeNpy(join(tmp, 'user_intents.npy'), [m.K, dim], m.userProto);
        writeNpy(join(tmp, 'item_intents.npy'), [m.K, dim], m.itemProto);
        files.push('user_intents.npy', 'item_intents.npy');
      }
    } else {
      const t: Record<string, NamedArray> = {
        user_embeddings: { shape: [rec.numUsers, dim], data: user },
        item_embeddings: { shape: [rec.numItems, dim], data: item },
      };
      if (m) {
        t.user_intents = { shape: [m.K, dim], data: m.userProto };
        t.item_intents = { shape: [m.K, dim], data: m.itemProto };
      }
      writeFileSync(join(tmp, 'embeddings.safetensors'), encodeSafetensors(t, { model: rec.model, dim: String(dim), scoring: 'dot' }));
      files.push('embeddings.safetensors');
    }
    writeFileSync(join(tmp, 'users.tsv'), ids.users);
    writeFileSync(join(tmp, 'items.tsv'), ids.items);
    files.push('users.tsv', 'items.tsv', 'export.json');
    writeFileSync(join(tmp, 'export.json'), manifest(rec, format, files));
    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { format, out, files: files.map((f) => join(out, f)), users: rec.numUsers, items: rec.numItems, dim };
}

interface LanceModule {
  connect(uri: string): Promise<{
    createTable(name: string, data: Record<string, unknown>[], o?: { mode?: string }): Promise<unknown>;
  }>;
}

/** Loads @lancedb/lancedb (an optional dependency) or explains how to get it. */
export async function loadLanceDb(): Promise<LanceModule> {
  const name = '@lancedb/lancedb';
  // its Rust logger warns that a new table "will be created"; keep stderr to real problems
  process.env.LANCEDB_LOG ??= 'error';
  try {
    return (await import(name)) as LanceModule;
  } catch (e) {
    throw new RunError(`--format lancedb needs the optional package @lancedb/lancedb (0.31.0), which is not installed or does not load here (${(e as Error).message.split('\n')[0]}); install it with "npm install @lancedb/lancedb@0.31.0", or export --format npy / safetensors`);
  }
}

async function exportLance(rec: Recommender, out: string, ids: { users: string; items: string }, force: boolean): Promise<ExportSummary> {
  const lance = await loadLanceDb();
  if (force && existsSync(out)) rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const { user, item, dim } = rec.embeddings();
  const db = await lance.connect(out);
  const rows = (n: number, table: Float32Array, key: (i: number) => string, title?: (i: number) => string | undefined) => {
    const r: Record<string, unknown>[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const row: Record<string, unknown> = { id: key(i), index: i, vector: Array.from(table.subarray(i * dim, (i + 1) * dim)) };
      if (title) row.title = title(i) ?? '';
      r[i] = row;
    }
    return r;
  };
  await db.createTable('items', rows(rec.numItems, item, (i) => rec.items.key(i), (i) => rec.items.title(i)), { mode: 'overwrite' });
  await db.createTable('users', rows(rec.numUsers, user, (i) => rec.users.key(i)), { mode: 'overwrite' });
  writeFileSync(join(out, 'users.tsv'), ids.users);
  writeFileSync(join(out, 'items.tsv'), ids.items);
  const files = ['items.lance', 'users.lance', 'users.tsv', 'items.tsv', 'export.json'];
  writeFileSync(join(out, 'export.json'), manifest(rec, 'lancedb', files));
  return { format: 'lancedb', out, files: files.map((f) => join(out, f)), users: rec.numUsers, items: rec.numItems, dim };
}
