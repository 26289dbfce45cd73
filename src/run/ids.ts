/**
 * External ids <-> the 0-based internal indices of a dataset.
 *
 * Where they come from, first match wins (in the dataset directory):
 * 1. `users.tsv` / `items.tsv` written by `irllrec ingest` (header `id\tkey[\ttitle]`);
 * 2. the official RLMRec/IRLLRec mappers, JSON Lines `*_user.json` ({"uid": 0, "reviewerID": ...})
 *    and `*_item.json` ({"iid": 0, "asin": ...}): the first string field is the key;
 * 3. otherwise the internal index itself, in decimal ("0", "1", ...).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunError } from './errors.js';

export type IdSource = 'tsv' | 'mapper' | 'index';

export class IdMap {
  private readonly index: Map<string, number> | null;

  /**
   * keys[i] is the external id of internal index i; null keys mean "the index is the id".
   * titles (items only) are optional display names.
   */
  constructor(
    readonly size: number,
    private readonly keys: string[] | null,
    readonly source: IdSource,
    readonly file: string | null = null,
    readonly titles: (string | undefined)[] | null = null,
  ) {
    if (keys) {
      if (keys.length !== size) throw new RunError(`${file ?? 'id map'}: has ${keys.length} ids, the dataset has ${size}`);
      this.index = new Map();
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const prev = this.index.get(k);
        if (prev !== undefined) throw new RunError(`${file ?? 'id map'}: id "${k}" is used by both ${prev} and ${i}`);
        this.index.set(k, i);
      }
    } else this.index = null;
  }

  static identity(size: number): IdMap {
    return new IdMap(size, null, 'index');
  }

  /** The internal index of an external id, or -1. Numbers are accepted as their decimal string. */
  lookup(id: string | number): number {
    const s = typeof id === 'number' ? String(id) : id;
    if (typeof s !== 'string') return -1;
    if (this.index) return this.index.get(s) ?? -1;
    if (!/^(0|[1-9]\d*)$/.test(s)) return -1;
    const n = Number(s);
    return n < this.size ? n : -1;
  }

  /** The external id of an internal index. */
  key(i: number): string {
    return this.keys ? this.keys[i]! : String(i);
  }

  title(i: number): string | undefined {
    return this.titles?.[i] || undefined;
  }

  /** All external ids in index order. */
  allKeys(): string[] {
    return this.keys ? [...this.keys] : Array.from({ length: this.size }, (_, i) => String(i));
  }
}

function readTsvMap(file: string, size: number, withTitle: boolean): IdMap {
  const lines = readFileSync(file, 'utf8').split('\n');
  const header = lines[0]?.replace(/\r$/, '').split('\t') ?? [];
  const idCol = header.indexOf('id');
  const keyCol = header.indexOf('key');
  const titleCol = header.indexOf('title');
  if (idCol < 0 || keyCol < 0) throw new RunError(`${file}: expected a header with "id" and "key" columns, got "${lines[0] ?? ''}"`);
  const keys: string[] = new Array(size);
  const titles: (string | undefined)[] | null = withTitle && titleCol >= 0 ? new Array(size) : null;
  let n = 0;
  for (let l = 1; l < lines.length; l++) {
    const line = lines[l]!.replace(/\r$/, '');
    if (line === '') continue;
    const f = line.split('\t');
    const id = Number(f[idCol]);
    if (!Number.isInteger(id) || id < 0 || id >= size) throw new RunError(`${file}:${l + 1}: id "${f[idCol]}" is not an index in [0, ${size})`);
    if (keys[id] !== undefined) throw new RunError(`${file}:${l + 1}: index ${id} appears twice`);
    keys[id] = f[keyCol] ?? '';
    if (titles) titles[id] = f[titleCol];
    n++;
  }
  if (n !== size) throw new RunError(`${file}: maps ${n} ids, the dataset has ${size}`);
  return new IdMap(size, keys, 'tsv', file, titles);
}

function readMapper(file: string, size: number, idField: string): IdMap | null {
  const keys: string[] = new Array(size);
  let n = 0;
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let l = 0; l < lines.length; l++) {
    const line = lines[l]!.trim();
    if (!line) continue;
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return null; // not a mapper after all
    }
    const id = r[idField];
    const key = Object.entries(r).find(([k, v]) => k !== idField && typeof v === 'string')?.[1] as string | undefined;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= size || key === undefined) return null;
    if (keys[id] === undefined) n++;
    keys[id] = key;
  }
  if (n !== size) return null;
  return new IdMap(size, keys, 'mapper', file);
}

/**
 * One side's id map of a dataset directory (see the module doc): the IdMap and, in `file`, the
 * file it was read from (null for indices).
 */
export function pickIdMap(dir: string, side: 'users' | 'items', size: number): IdMap {
  const [tsv, suffix, idField, withTitle] = side === 'users'
    ? ['users.tsv', '_user.json', 'uid', false] as const
    : ['items.tsv', '_item.json', 'iid', true] as const;
  const t = join(dir, tsv);
  if (existsSync(t)) return readTsvMap(t, size, withTitle);
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((f) => f.endsWith(suffix)).sort();
  } catch {
    // an unreadable directory: fall back to indices
  }
  for (const f of names) {
    const m = readMapper(join(dir, f), size, idField);
    if (m) return m;
  }
  return IdMap.identity(size);
}

/** The id maps of a dataset directory (see the module doc). */
export function loadIdMaps(dir: string, numUsers: number, numItems: number): { users: IdMap; items: IdMap } {
  return { users: pickIdMap(dir, 'users', numUsers), items: pickIdMap(dir, 'items', numItems) };
}
