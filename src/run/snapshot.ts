/**
 * The run's own copy of its data (RUN/data/, see ./layout.ts): written by `irllrec train` so that a
 * run directory copied anywhere serves, explains and evaluates exactly as the original, without
 * the dataset directory it was trained on.
 *
 * What is copied is what serving and evaluation read, and nothing else (no corpus, no LLM cache):
 * the splits (from the dataset as loaded, so pickled splits become TSV), the id maps, the text
 * vectors the model was built with (.npy: float32, or float16 when the source file was float16, so
 * the copy is no larger than the source; official pickles are converted), the profiles and
 * intents, and embed.json (with the local embedder's saved fit when it refers to one). The copy is built in a temporary directory beside it and renamed into
 * place; dataset.json, written last, lists every file with its size and SHA-256, so a half-copied
 * or damaged run is refused instead of answering differently.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync, closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync,
  statSync, writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CsrPattern } from '../data/csr.js';
import { assemble, type Dataset, type Interactions } from '../data/dataset.js';
import { isFloat16Exact, readNpyHeader, writeNpy } from '../data/formats/numpy.js';
import { readInteractionsTsv } from '../data/formats/tsv.js';
import { findTextFile } from '../data/text-vectors.js';
import type { TextVectors } from '../data/text-types.js';
import { denseText, HalfRows, type TrainingText } from '../data/text-rows.js';
import { readEmbedManifest } from '../text/embed-files.js';
import { localModelFiles } from '../text/local-model.js';
import { pickIdMap } from './ids.js';
import { RunError } from './errors.js';
import { RUN_DATA_FILES, RUN_DATA_VERSION, runDataDir, type RunDataManifest } from './layout.js';

export interface RunDataSource {
  /** The dataset as training loaded it. */
  dataset: Dataset;
  /** The text vectors the model was built with. */
  text: TrainingText;
  /** Where the text vectors (and embed.json) were read from: run.json's textDir, else the dataset directory. */
  textDir: string | null;
  log?: (line: string) => void;
}

/** An opened RUN/data/. */
export interface RunData {
  dir: string;
  manifest: RunDataManifest;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** SHA-256 of a file, read in chunks (data copies can be large). */
export function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Writes `lines()` chunks to a new file with one fd, then fsyncs it. */
function writeChunks(path: string, chunks: Iterable<string>): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    for (const c of chunks) {
      const b = Buffer.from(c, 'utf8');
      let off = 0;
      while (off < b.length) off += writeSync(fd, b, off, b.length - off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function* pairLines(user: ArrayLike<number>, item: ArrayLike<number>): Generator<string> {
  yield 'user\titem\n';
  let buf = '';
  for (let i = 0; i < user.length; i++) {
    buf += `${user[i]}\t${item[i]}\n`;
    if (buf.length > 1 << 20) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

function csrPairs(m: CsrPattern): Interactions {
  const n = m.indptr[m.rows]!;
  const user = new Int32Array(n);
  for (let u = 0; u < m.rows; u++) user.fill(u, m.indptr[u]!, m.indptr[u + 1]!);
  return { user, item: m.indices.slice(0, n) };
}

/**
 * True when the text vectors came from a float16 .npy and still are float16 values exactly: the
 * copy then keeps float16 (half the bytes, the same numbers). Anything else is copied as float32.
 */
function keepsFloat16(source: string | null, data: Float32Array): boolean {
  if (!source?.endsWith('.npy')) return false;
  try {
    if (readNpyHeader(source).dtype !== 'float16') return false;
  } catch {
    return false;
  }
  return isFloat16Exact(data);
}

/**
 * Writes RUN/data/ from the dataset training used (replacing an earlier copy atomically). Returns
 * its manifest.
 */
export function writeRunData(runDir: string, src: RunDataSource): RunDataManifest {
  const ds = src.dataset;
  const final = runDataDir(runDir);
  mkdirSync(runDir, { recursive: true });
  // half-written copies of killed processes
  for (const n of readdirSync(runDir)) if (n.startsWith('.data.tmp-') || n.startsWith('.data.old-')) rmSync(join(runDir, n), { recursive: true, force: true });
  const tmp = join(runDir, `.data.tmp-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  const files: Record<string, number> = {};
  const sha256: Record<string, string> = {};
  const record = (rel: string) => {
    files[rel] = statSync(join(tmp, rel)).size;
    sha256[rel] = sha256File(join(tmp, rel));
  };
  const copy = (from: string, rel: string) => {
    const to = join(tmp, rel);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    chmodSync(to, 0o644); // not the source's mode: a read-only dataset must not make the run read-only
    fsyncPath(to);
    record(rel);
  };
  try {
    // the splits, as the model saw them (training pairs in file order)
    const sp = RUN_DATA_FILES.splits;
    writeChunks(join(tmp, sp.train), pairLines(ds.trainPairs.user, ds.trainPairs.item));
    record(sp.train);
    const counts = { train: ds.trainPairs.user.length, valid: 0, test: 0 };
    for (const s of ['valid', 'test'] as const) {
      const p = csrPairs(ds[s]);
      writeChunks(join(tmp, sp[s]), pairLines(p.user, p.item));
      record(sp[s]);
      counts[s] = p.user.length;
    }
    // the id maps: the very files serving reads
    const ids: RunDataManifest['ids'] = { users: null, items: null };
    for (const side of ['users', 'items'] as const) {
      const tsv = join(ds.dir, RUN_DATA_FILES[side]);
      if (existsSync(tsv)) {
        copy(tsv, RUN_DATA_FILES[side]);
        ids[side] = RUN_DATA_FILES[side];
        continue;
      }
      try {
        const m = pickIdMap(ds.dir, side, side === 'users' ? ds.numUsers : ds.numItems);
        if (m.file) {
          copy(m.file, basename(m.file));
          ids[side] = basename(m.file);
        }
      } catch (e) {
        src.log?.(`run data: ${side} id map not copied (${(e as Error).message})`);
      }
    }
    // the text vectors the model was built with
    const textDir = src.textDir ?? ds.dir;
    const text: RunDataManifest['text'] = [];
    for (const kind of Object.keys(src.text) as (keyof TextVectors)[]) {
      const t = src.text[kind];
      if (!t) continue;
      const rel = RUN_DATA_FILES.text[kind];
      const source = findTextFile(textDir, kind);
      // a float16 table kept as float16 holds exactly the source file's values: copy the file
      if (t instanceof HalfRows && source?.endsWith('.npy')) copy(source, rel);
      else {
        const data = denseText(t).data;
        writeNpy(join(tmp, rel), [t.rows, t.cols], data, { dtype: keepsFloat16(source, data) ? 'float16' : 'float32' });
        record(rel);
      }
      text.push({ kind, file: rel, rows: t.rows, cols: t.cols, source });
    }
    // profiles and intents (explanations, the local embedder's fold-in)
    const pf = RUN_DATA_FILES.profiles;
    let profiles = false;
    if (existsSync(join(ds.dir, pf.manifest))) {
      for (const rel of [pf.users, pf.items, pf.manifest]) if (existsSync(join(ds.dir, rel))) copy(join(ds.dir, rel), rel);
      profiles = true;
    }
    // the embedder (looked up where serving looks: the text directory, then the dataset)
    let embed = false;
    for (const d of [textDir, ds.dir]) {
      const f = join(d, RUN_DATA_FILES.embed);
      if (existsSync(f)) {
        copy(f, RUN_DATA_FILES.embed);
        embed = true;
        // the local embedder's saved fit, beside it (exact cold start from raw text)
        const ref = readEmbedManifest(d)?.local?.model;
        if (ref) {
          try {
            for (const rel of localModelFiles(d, ref)) copy(join(d, rel), rel);
          } catch (e) {
            src.log?.(`run data: the local embedder's saved fit not copied (${(e as Error).message}); cold start from raw text will not work from this run's copy`);
          }
        }
        break;
      }
    }
    const manifest: RunDataManifest = {
      version: RUN_DATA_VERSION,
      dataset: { name: ds.name, source: ds.dir, format: ds.format, users: ds.numUsers, items: ds.numItems },
      splits: counts,
      text,
      ids,
      profiles,
      embed,
      files,
      sha256,
      created: new Date().toISOString(),
    };
    writeChunks(join(tmp, RUN_DATA_FILES.manifest), [`${JSON.stringify(manifest, null, 2)}\n`]);
    try {
      fsyncPath(tmp);
    } catch {
      // directories cannot be fsynced everywhere
    }
    // swap in: the previous copy (if any) stays complete until the new one is in place
    const old = join(runDir, `.data.old-${process.pid}`);
    if (existsSync(final)) renameSync(final, old);
    renameSync(tmp, final);
    rmSync(old, { recursive: true, force: true });
    try {
      fsyncPath(runDir);
    } catch {
      // directories cannot be fsynced everywhere
    }
    return manifest;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A relative path inside RUN/data/ (no absolute paths, no "..", no empty parts). */
function isInside(rel: string): boolean {
  return rel !== '' && !rel.startsWith('/') && !rel.includes('\\') && rel.split('/').every((p) => p !== '' && p !== '.' && p !== '..');
}

function readManifest(file: string): RunDataManifest {
  let m: RunDataManifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as RunDataManifest;
  } catch (e) {
    throw new RunError(`${file}: not valid JSON (${(e as Error).message.replace(/\s+/g, ' ').slice(0, 160)}; truncated or edited?)`);
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m) || typeof m.version !== 'number' || typeof m.dataset !== 'object' || m.dataset === null
    || typeof m.files !== 'object' || m.files === null || Array.isArray(m.files)) {
    throw new RunError(`${file}: not a run data manifest`);
  }
  if (m.version > RUN_DATA_VERSION) throw new RunError(`${file}: version ${m.version} is newer than this irllrec understands (${RUN_DATA_VERSION}); upgrade irllrec`);
  const d = m.dataset;
  if (!isCount(d.users) || d.users === 0 || !isCount(d.items) || d.items === 0) throw new RunError(`${file}: dataset.users and dataset.items must be positive integers, got ${JSON.stringify([d.users, d.items])}`);
  for (const [rel, size] of Object.entries(m.files)) {
    if (!isInside(rel)) throw new RunError(`${file}: files: "${rel}" is not a path inside the copy`);
    if (!isCount(size)) throw new RunError(`${file}: files.${rel} must be a size in bytes, got ${JSON.stringify(size)}`);
  }
  if (m.sha256 !== undefined) {
    if (typeof m.sha256 !== 'object' || m.sha256 === null || Array.isArray(m.sha256)) throw new RunError(`${file}: sha256 must map files to checksums`);
    for (const [rel, h] of Object.entries(m.sha256)) {
      if (!(rel in m.files)) throw new RunError(`${file}: sha256 lists "${rel}", which files does not`);
      if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h)) throw new RunError(`${file}: sha256.${rel} must be 64 hex digits, got ${JSON.stringify(h)}`);
    }
  }
  return m;
}

/**
 * The run's own copy of its data, or null when the run has none (runs made before copies existed,
 * or an interrupted first write). A copy with missing or truncated files is an error: copy the
 * whole run directory again.
 */
export function readRunData(runDir: string): RunData | null {
  const dir = runDataDir(runDir);
  const mf = join(dir, RUN_DATA_FILES.manifest);
  if (!existsSync(mf)) return null;
  const manifest = readManifest(mf);
  for (const [rel, size] of Object.entries(manifest.files)) {
    const f = join(dir, rel);
    if (!existsSync(f)) throw new RunError(`${f} is missing (an incomplete copy of the run? copy the whole run directory again)`);
    const st = statSync(f);
    if (!st.isFile()) throw new RunError(`${f} is not a file (${mf} lists it as one)`);
    const have = st.size;
    if (have !== size) throw new RunError(`${f} has ${have} bytes, ${mf} says ${size} (an incomplete copy of the run? copy the whole run directory again)`);
    const want = manifest.sha256?.[rel];
    if (want !== undefined && sha256File(f) !== want) {
      throw new RunError(`${f}: its SHA-256 differs from the one ${mf} recorded (the copy was changed or damaged; copy the whole run directory again)`);
    }
  }
  return { dir, manifest };
}

/** The dataset of a run's copy: its splits, with the shape training had, under its original name. */
export function loadRunDataset(d: RunData): Dataset {
  const sp = RUN_DATA_FILES.splits;
  const files = [sp.train, sp.valid, sp.test].map((f) => join(d.dir, f));
  const pairs = files.map((f) => readInteractionsTsv(f));
  const { users, items, name } = d.manifest.dataset;
  const ds = assemble(d.dir, 'tsv', users, items, pairs, files);
  return { ...ds, name: typeof name === 'string' && name ? name : ds.name };
}

/**
 * Writes RUN/data/ unless a complete copy is already there (runs resumed from before copies
 * existed get theirs at the end). Returns whether it wrote one.
 */
export function ensureRunData(runDir: string, src: RunDataSource): boolean {
  try {
    if (readRunData(runDir)) return false;
  } catch {
    // an incomplete copy: write it again
  }
  writeRunData(runDir, src);
  return true;
}

/** Total bytes of a run's data copy (for log lines). */
export function runDataBytes(m: RunDataManifest): number {
  return Object.values(m.files).reduce((a, b) => a + b, 0);
}
