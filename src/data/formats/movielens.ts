/**
 * Reader for the MovieLens CSV releases (ml-latest, ml-latest-small, ml-20m,
 * ml-25m, ...): `ratings.csv`, `movies.csv`, `tags.csv` and, when present,
 * `links.csv`. Ids are kept as in the files (MovieLens ids are 1-based and
 * sparse); remapping to dense indices is left to the caller.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, readFileForData } from '../errors.js';
import { iterateCsv, type CsvRecord } from './csv.js';

export interface MovieLensRatings {
  userId: Int32Array;
  movieId: Int32Array;
  /** star rating, e.g. 0.5 .. 5 */
  rating: Float32Array;
  /** seconds since the Unix epoch (UTC) */
  timestamp: Float64Array;
}

export interface MovieLensMovie {
  movieId: number;
  title: string;
  /** genre names; empty for `(no genres listed)` */
  genres: string[];
}

export interface MovieLensTag {
  userId: number;
  movieId: number;
  tag: string;
  timestamp: number;
}

export interface MovieLensLink {
  movieId: number;
  /** IMDb id as in the file (digits, leading zeros kept) */
  imdbId: string;
  /** TMDb id, or null when missing */
  tmdbId: number | null;
}

export interface MovieLensData {
  ratings: MovieLensRatings;
  movies: MovieLensMovie[];
  /** movieId -> index into `movies` */
  movieIndex: Map<number, number>;
  tags: MovieLensTag[];
  /** from links.csv, or null when the directory has none */
  links: MovieLensLink[] | null;
}

function readCsvRecords(path: string, header: readonly string[]): Generator<CsvRecord> {
  const text = readFileForData(path).toString('utf8');
  const it = iterateCsv(text, path);
  const first = it.next();
  if (first.done) throw new DataError(path, `empty file, expected header ${header.join(',')}`, { line: 1 });
  const got = first.value.fields.map((f) => f.trim());
  if (got.length !== header.length || got.some((f, i) => f !== header[i])) {
    throw new DataError(path, `expected header ${header.join(',')}, found ${first.value.fields.join(',')}`, {
      line: 1,
    });
  }
  return it;
}

function checkWidth(path: string, rec: CsvRecord, header: readonly string[]): void {
  if (rec.fields.length !== header.length) {
    throw new DataError(
      path,
      `expected ${header.length} comma-separated fields (${header.join(',')}), found ${rec.fields.length}`,
      { line: rec.line },
    );
  }
}

function intField(path: string, rec: CsvRecord, col: number, name: string, min: number, max: number): number {
  const s = rec.fields[col]!;
  if (!/^-?\d+$/.test(s)) {
    throw new DataError(path, `field "${name}" is not an integer: ${JSON.stringify(s)}`, { line: rec.line, field: name });
  }
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new DataError(path, `field "${name}" = ${s} is out of range [${min}, ${max}]`, { line: rec.line, field: name });
  }
  return v;
}

function floatField(path: string, rec: CsvRecord, col: number, name: string): number {
  const s = rec.fields[col]!;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) {
    throw new DataError(path, `field "${name}" is not a number: ${JSON.stringify(s)}`, { line: rec.line, field: name });
  }
  return Number(s);
}

const ID_MAX = 0x7fff_ffff;
const TS_MIN = -Number.MAX_SAFE_INTEGER;
const TS_MAX = Number.MAX_SAFE_INTEGER;

const RATINGS_HEADER = ['userId', 'movieId', 'rating', 'timestamp'] as const;
const MOVIES_HEADER = ['movieId', 'title', 'genres'] as const;
const TAGS_HEADER = ['userId', 'movieId', 'tag', 'timestamp'] as const;
const LINKS_HEADER = ['movieId', 'imdbId', 'tmdbId'] as const;

/** Read `ratings.csv` (userId,movieId,rating,timestamp). */
export function readMovieLensRatings(path: string): MovieLensRatings {
  let cap = 4096;
  let userId = new Int32Array(cap);
  let movieId = new Int32Array(cap);
  let rating = new Float32Array(cap);
  let timestamp = new Float64Array(cap);
  let n = 0;
  for (const rec of readCsvRecords(path, RATINGS_HEADER)) {
    checkWidth(path, rec, RATINGS_HEADER);
    const u = intField(path, rec, 0, 'userId', 0, ID_MAX);
    const m = intField(path, rec, 1, 'movieId', 0, ID_MAX);
    const r = floatField(path, rec, 2, 'rating');
    if (r < 0 || r > 10) {
      throw new DataError(path, `field "rating" = ${rec.fields[2]} is out of range [0, 10]`, {
        line: rec.line,
        field: 'rating',
      });
    }
    const t = intField(path, rec, 3, 'timestamp', TS_MIN, TS_MAX);
    if (n === cap) {
      cap *= 2;
      const grow = <T extends Int32Array | Float32Array | Float64Array>(a: T, make: (k: number) => T): T => {
        const b = make(cap);
        b.set(a);
        return b;
      };
      userId = grow(userId, (k) => new Int32Array(k));
      movieId = grow(movieId, (k) => new Int32Array(k));
      rating = grow(rating, (k) => new Float32Array(k));
      timestamp = grow(timestamp, (k) => new Float64Array(k));
    }
    userId[n] = u;
    movieId[n] = m;
    rating[n] = r;
    timestamp[n] = t;
    n++;
  }
  return {
    userId: userId.slice(0, n),
    movieId: movieId.slice(0, n),
    rating: rating.slice(0, n),
    timestamp: timestamp.slice(0, n),
  };
}

/** Read `movies.csv` (movieId,title,genres). Duplicate movieIds are an error. */
export function readMovieLensMovies(path: string): MovieLensMovie[] {
  const movies: MovieLensMovie[] = [];
  const seen = new Map<number, number>();
  for (const rec of readCsvRecords(path, MOVIES_HEADER)) {
    checkWidth(path, rec, MOVIES_HEADER);
    const movieId = intField(path, rec, 0, 'movieId', 0, ID_MAX);
    const prev = seen.get(movieId);
    if (prev !== undefined) {
      throw new DataError(path, `duplicate movieId ${movieId} (first on line ${prev})`, {
        line: rec.line,
        field: 'movieId',
      });
    }
    seen.set(movieId, rec.line);
    const g = rec.fields[2]!;
    const genres = g === '(no genres listed)' || g === '' ? [] : g.split('|');
    movies.push({ movieId, title: rec.fields[1]!, genres });
  }
  return movies;
}

/** Read `tags.csv` (userId,movieId,tag,timestamp). */
export function readMovieLensTags(path: string): MovieLensTag[] {
  const tags: MovieLensTag[] = [];
  for (const rec of readCsvRecords(path, TAGS_HEADER)) {
    checkWidth(path, rec, TAGS_HEADER);
    tags.push({
      userId: intField(path, rec, 0, 'userId', 0, ID_MAX),
      movieId: intField(path, rec, 1, 'movieId', 0, ID_MAX),
      tag: rec.fields[2]!,
      timestamp: intField(path, rec, 3, 'timestamp', TS_MIN, TS_MAX),
    });
  }
  return tags;
}

/** Read `links.csv` (movieId,imdbId,tmdbId); tmdbId may be empty. */
export function readMovieLensLinks(path: string): MovieLensLink[] {
  const links: MovieLensLink[] = [];
  for (const rec of readCsvRecords(path, LINKS_HEADER)) {
    checkWidth(path, rec, LINKS_HEADER);
    const movieId = intField(path, rec, 0, 'movieId', 0, ID_MAX);
    const imdbId = rec.fields[1]!;
    if (!/^\d*$/.test(imdbId)) {
      throw new DataError(path, `field "imdbId" is not numeric: ${JSON.stringify(imdbId)}`, {
        line: rec.line,
        field: 'imdbId',
      });
    }
    const tmdbId = rec.fields[2] === '' ? null : intField(path, rec, 2, 'tmdbId', 0, ID_MAX);
    links.push({ movieId, imdbId, tmdbId });
  }
  return links;
}

/**
 * Read a MovieLens CSV directory: `ratings.csv`, `movies.csv`, `tags.csv`
 * (all required) and `links.csv` (optional).
 */
export function readMovieLens(dir: string): MovieLensData {
  const ratings = readMovieLensRatings(join(dir, 'ratings.csv'));
  const movies = readMovieLensMovies(join(dir, 'movies.csv'));
  const tags = readMovieLensTags(join(dir, 'tags.csv'));
  const linksPath = join(dir, 'links.csv');
  const links = existsSync(linksPath) ? readMovieLensLinks(linksPath) : null;
  const movieIndex = new Map<number, number>();
  movies.forEach((m, i) => movieIndex.set(m.movieId, i));
  return { ratings, movies, movieIndex, tags, links };
}
