/**
 * What every ingest reader produces: raw interactions with external (string) ids, plus whatever
 * text the source has about items, users and (user, item) pairs. Filters, splits and the corpus
 * builder work on this one shape, whatever the input format.
 */

/** One interaction row as read (before deduplication, thresholds and k-core). */
export interface RawRow {
  user: string;
  item: string;
  /** explicit rating, or null when the source has none (implicit feedback) */
  rating: number | null;
  /** seconds since the Unix epoch, or null when unknown */
  time: number | null;
  /** review text written with this interaction */
  text?: string;
  /** review headline / summary */
  summary?: string;
  /** 1-based line (or record) number in the interactions file, for messages */
  line: number;
}

/** Item side information. Every field is optional; attributes are lists of short strings. */
export interface EntityMeta {
  title?: string;
  description?: string;
  /** e.g. genres, categories, brand, year, price */
  attributes: Record<string, string[]>;
}

/** A free-text tag one user put on one item (MovieLens tags.csv), not tied to a rating. */
export interface RawTag {
  user: string;
  item: string;
  tag: string;
  time: number | null;
}

export interface RawData {
  format: string;
  /** the file the rows come from (error messages) */
  rowsFile: string;
  /** every input file read */
  files: string[];
  rows: RawRow[];
  items: Map<string, EntityMeta>;
  users: Map<string, EntityMeta>;
  tags: RawTag[];
  /** what kind of things the items are ("movie", "product", "item"): used in prompts */
  domain: string;
}

/** Turns a text field into one clean line: HTML tags and entities out, whitespace collapsed. */
export function cleanText(s: unknown): string {
  if (typeof s !== 'string') return '';
  let t = s;
  if (t.includes('<')) t = t.replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ').replace(/<[^>]{0,400}>/g, ' ');
  if (t.includes('&')) {
    t = t
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;|&apos;/g, "'")
      .replace(/&#(\d+);/g, (_, d: string) => {
        const c = Number(d);
        return c > 0 && c < 0x110000 ? String.fromCodePoint(c) : ' ';
      });
  }
  return t.replace(/\s+/g, ' ').trim();
}
