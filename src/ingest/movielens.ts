/**
 * MovieLens CSV directories (ml-latest-small, ml-latest, ml-20m, ml-25m, ml-32m): `ratings.csv`
 * (required), `movies.csv` (required: titles and genres feed the prompts), `tags.csv` (optional).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../data/errors.js';
import { readMovieLensMovies, readMovieLensRatings, readMovieLensTags } from '../data/formats/movielens.js';
import { cleanText, type EntityMeta, type RawData, type RawRow, type RawTag } from './types.js';

export function readMovieLensDir(dir: string): RawData {
  if (!existsSync(dir)) throw new DataError(dir, 'directory not found');
  const ratingsFile = join(dir, 'ratings.csv');
  const moviesFile = join(dir, 'movies.csv');
  const tagsFile = join(dir, 'tags.csv');
  const r = readMovieLensRatings(ratingsFile);
  const rows: RawRow[] = new Array(r.userId.length);
  for (let i = 0; i < r.userId.length; i++) {
    // ratings.csv has a header, so record i is on line i + 2 (no quoted line breaks in it)
    rows[i] = { user: String(r.userId[i]), item: String(r.movieId[i]), rating: r.rating[i]!, time: r.timestamp[i]!, line: i + 2 };
  }
  const items = new Map<string, EntityMeta>();
  for (const m of readMovieLensMovies(moviesFile)) {
    const attributes: Record<string, string[]> = {};
    if (m.genres.length) attributes.genres = m.genres;
    const year = /\((\d{4})(?:[-–]\d{0,4})?\)\s*$/.exec(m.title);
    if (year) attributes.year = [year[1]!];
    items.set(String(m.movieId), { title: cleanText(m.title), attributes });
  }
  const files = [ratingsFile, moviesFile];
  const tags: RawTag[] = [];
  if (existsSync(tagsFile)) {
    files.push(tagsFile);
    for (const t of readMovieLensTags(tagsFile)) {
      const tag = cleanText(t.tag);
      if (tag) tags.push({ user: String(t.userId), item: String(t.movieId), tag, time: t.timestamp });
    }
  }
  return { format: 'movielens', rowsFile: ratingsFile, files, rows, items, users: new Map(), tags, domain: 'movie' };
}
