/**
 * The first difference between two JSON values, as "key: A stored, B now" (null when equal), for the
 * messages that refuse a run or grid whose stored settings differ; long values are cut at 80 characters.
 */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])]) {
      const d = firstDifference(a[k], b[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  const show = (x: unknown) => {
    const j = x === undefined ? '(none)' : JSON.stringify(x);
    return j.length > 80 ? `${j.slice(0, 77)}...` : j;
  };
  return `${path || 'value'}: ${show(a)} stored, ${show(b)} now`;
}
