/** Strings to dense 0-based numbers, in order of first appearance (ingest's ids, the explanation lexicon's terms). */
export class Interner {
  readonly keys: string[] = [];
  private readonly index = new Map<string, number>();
  id(key: string): number {
    let k = this.index.get(key);
    if (k === undefined) {
      k = this.keys.length;
      this.index.set(key, k);
      this.keys.push(key);
    }
    return k;
  }
  get(key: string): number | undefined {
    return this.index.get(key);
  }
  get size(): number {
    return this.keys.length;
  }
}
