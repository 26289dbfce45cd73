/**
 * The append-only answer store: one JSON object per line, keyed by the request key (a hash of
 * task, entity, model and prompt). A run appends each answer as soon as it has it, so a killed run
 * loses at most the requests in flight, and a rerun asks only what is missing. A torn last line
 * (power cut mid-write) is cut off on open. A lock file keeps two runs off one store.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from '../util/errors.js';
import { DataError } from '../data/errors.js';
import type { Answer, TaskName } from './schema.js';

export interface StoredAnswer {
  key: string;
  task: TaskName;
  entity: string;
  provider: string;
  model: string;
  answer: Answer;
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** HTTP attempts + re-asks it took */
  attempts?: number;
  /** the reply needed repairs (fences, prose, trailing commas, coercions) */
  repaired?: boolean;
  /** answered from a batch output file */
  batch?: boolean;
  created: string;
}

/** An append-only JSONL file of records with a unique `key` (first occurrence wins). */
export class JsonlStore<T extends { key: string }> {
  private readonly map = new Map<string, T>();
  private fd: number | null = null;
  private pending: string[] = [];
  /** lines dropped on open (torn tail) */
  readonly repairedTail: boolean;

  constructor(readonly file: string, valid: (r: T) => boolean = () => true) {
    mkdirSync(dirname(file), { recursive: true });
    let repaired = false;
    if (existsSync(file)) {
      const buf = readFileSync(file);
      let end = buf.length;
      if (end > 0 && buf[end - 1] !== 0x0a) {
        // a torn last line: keep everything up to the last complete one
        end = buf.lastIndexOf(0x0a) + 1;
        const fd = openSync(file, 'r+');
        try {
          ftruncateSync(fd, end);
        } finally {
          closeSync(fd);
        }
        repaired = true;
      }
      const text = buf.subarray(0, end).toString('utf8');
      let no = 0;
      for (const line of text.split('\n')) {
        no++;
        if (line === '') continue;
        let r: T;
        try {
          r = JSON.parse(line) as T;
        } catch (e) {
          throw new DataError(file, `corrupt store line (${(e as Error).message}); delete this line to re-ask it`, { line: no });
        }
        if (typeof r?.key !== 'string' || !valid(r)) throw new DataError(file, 'corrupt store line (unexpected fields); delete this line to re-ask it', { line: no });
        if (!this.map.has(r.key)) this.map.set(r.key, r);
      }
    }
    this.repairedTail = repaired;
  }

  get size(): number {
    return this.map.size;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  get(key: string): T | undefined {
    return this.map.get(key);
  }

  values(): IterableIterator<T> {
    return this.map.values();
  }

  private open(): number {
    if (this.fd === null) this.fd = openSync(this.file, 'a');
    return this.fd;
  }

  /** Appends now (one write per answer: what is written survives a kill). */
  append(r: T): void {
    if (this.map.has(r.key)) return;
    this.map.set(r.key, r);
    const b = Buffer.from(`${JSON.stringify(r)}\n`, 'utf8');
    const fd = this.open();
    let off = 0;
    while (off < b.length) off += writeSync(fd, b, off, b.length - off);
  }

  /** Buffers (for the offline provider's thousands of instant answers); flush() writes them. */
  appendBuffered(r: T): void {
    if (this.map.has(r.key)) return;
    this.map.set(r.key, r);
    this.pending.push(`${JSON.stringify(r)}\n`);
    if (this.pending.length >= 512) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const b = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    const fd = this.open();
    let off = 0;
    while (off < b.length) off += writeSync(fd, b, off, b.length - off);
  }

  close(): void {
    this.flush();
    if (this.fd !== null) {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

export class AnswerStore extends JsonlStore<StoredAnswer> {
  constructor(file: string) {
    super(file, (r) => typeof r.answer === 'object' && r.answer !== null);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `file` as a lock (pid inside); a lock left by a dead process is taken over. */
export function acquireLock(file: string, what: string): () => void {
  mkdirSync(dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        rmSync(file, { force: true });
      };
      // a lock left by a crash is taken over by the next run (its pid is gone); on a normal exit it goes
      process.on('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new UsageError(`${what} is in use by another irllrec process (pid ${pid}); wait for it, or remove ${file} if that process is gone`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new UsageError(`cannot lock ${file}`);
}
