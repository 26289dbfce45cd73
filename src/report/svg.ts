/** Small inline-SVG charts for the report (no dependencies, no network). */

export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];

/** Round numbers for axis ticks. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0];
  if (hi === lo) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

export function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return String(Math.round(v * 100) / 100);
  return String(Number(v.toPrecision(3)));
}

export interface Series {
  name: string;
  color: string;
  points: [number, number][];
  /** x of a marked point (e.g. the best epoch) */
  mark?: number;
}

export interface LineChartOptions {
  title: string;
  series: Series[];
  xLabel?: string;
  yLabel?: string;
  /** What x is called in the points' tooltips (default "epoch"). */
  xName?: string;
  /** Label of the x ticks (default: the number). */
  xTick?: (x: number) => string;
  width?: number;
  height?: number;
}

/** A line chart with axes, grid, native tooltips (<title>) and a legend. */
export function lineChart(o: LineChartOptions): string {
  const W = o.width ?? 420;
  const H = o.height ?? 240;
  const m = { l: 56, r: 12, t: 26, b: 40 };
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length === 0) return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img"><text x="${W / 2}" y="${H / 2}" text-anchor="middle">${esc(o.title)}: no data</text></svg>`;
  let x0 = Math.min(...pts.map((p) => p[0]));
  let x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = Math.min(...pts.map((p) => p[1]));
  let y1 = Math.max(...pts.map((p) => p[1]));
  if (x0 === x1) {
    x0 -= 1;
    x1 += 1;
  }
  const yt = niceTicks(y0, y1);
  y0 = Math.min(y0, yt[0]!);
  y1 = Math.max(y1, yt[yt.length - 1]!);
  if (y0 === y1) y1 = y0 + 1;
  const xt = (o.xTick ? niceTicks(x0, x1).filter(Number.isInteger) : niceTicks(x0, x1)).filter((v) => v >= x0 && v <= x1);
  const sx = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`);
  parts.push(`<text class="ct" x="${m.l}" y="16">${esc(o.title)}</text>`);
  for (const v of yt) {
    const y = sy(v).toFixed(1);
    parts.push(`<line class="grid" x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}"/><text class="tick" x="${m.l - 5}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(fmt(v))}</text>`);
  }
  for (const v of xt) {
    const x = sx(v).toFixed(1);
    parts.push(`<line class="grid" x1="${x}" x2="${x}" y1="${m.t}" y2="${H - m.b}"/><text class="tick" x="${x}" y="${H - m.b + 14}" text-anchor="middle">${esc(o.xTick ? o.xTick(v) : fmt(v))}</text>`);
  }
  parts.push(`<line class="axis" x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}"/><line class="axis" x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}"/>`);
  if (o.xLabel) parts.push(`<text class="lab" x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  if (o.yLabel) parts.push(`<text class="lab" transform="translate(12 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  for (const s of o.series) {
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (!p.length) continue;
    const d = p.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)} ${sy(y).toFixed(1)}`).join('');
    parts.push(`<path class="line" d="${d}" stroke="${s.color}"><title>${esc(s.name)}</title></path>`);
    if (p.length <= 60) {
      for (const [x, y] of p) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.2" fill="${s.color}"><title>${esc(`${s.name}: ${o.xName ?? 'epoch'} ${o.xTick ? o.xTick(x) : x}, ${fmt(y)}`)}</title></circle>`);
    }
    if (s.mark !== undefined) {
      const hit = p.find(([x]) => x === s.mark);
      if (hit) parts.push(`<circle class="mark" cx="${sx(hit[0]).toFixed(1)}" cy="${sy(hit[1]).toFixed(1)}" r="5" stroke="${s.color}"><title>${esc(`${s.name}: best epoch ${hit[0]}, ${fmt(hit[1])}`)}</title></circle>`);
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

export interface ScatterPoint {
  x: number;
  y: number;
  color: string;
  r?: number;
  title: string;
}

export interface Marker {
  x: number;
  y: number;
  label: string;
  color: string;
  title: string;
}

/** A scatter plot of points with labelled diamond markers on top. */
export function scatter(points: ScatterPoint[], markers: Marker[], o: { title: string; width?: number; height?: number }): string {
  const W = o.width ?? 640;
  const H = o.height ?? 480;
  const pad = 24;
  const all = [...points, ...markers];
  const xs = all.map((p) => p.x);
  const ys = all.map((p) => p.y);
  const x0 = Math.min(...xs, 0);
  const x1 = Math.max(...xs, 0);
  const y0 = Math.min(...ys, 0);
  const y1 = Math.max(...ys, 0);
  const sx = (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * pad);
  const sy = (y: number) => H - pad - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * pad - 14);
  const parts = [`<svg class="chart map" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`];
  parts.push(`<text class="ct" x="${pad}" y="16">${esc(o.title)}</text>`);
  for (const p of points) {
    parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="${p.r ?? 2.5}" fill="${p.color}" fill-opacity="0.6"><title>${esc(p.title)}</title></circle>`);
  }
  for (const mk of markers) {
    const x = sx(mk.x);
    const y = sy(mk.y);
    parts.push(`<g class="proto"><path d="M${x.toFixed(1)} ${(y - 7).toFixed(1)}L${(x + 7).toFixed(1)} ${y.toFixed(1)}L${x.toFixed(1)} ${(y + 7).toFixed(1)}L${(x - 7).toFixed(1)} ${y.toFixed(1)}Z" fill="${mk.color}" stroke="#000" stroke-width="1"/><text x="${(x + 9).toFixed(1)}" y="${(y + 4).toFixed(1)}">${esc(mk.label)}</text><title>${esc(mk.title)}</title></g>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

export interface Bar {
  label: string;
  value: number;
  color: string;
  /** drawn hatched-grey style with an italic label (a baseline) */
  muted?: boolean;
  title?: string;
}

/**
 * Horizontal bars, one per row, on a common zero-based axis (the value printed at each bar's end);
 * `lowerIsBetter` only changes the title's hint. Rows without a finite value are drawn as '–'.
 */
export function barChart(o: { title: string; bars: Bar[]; width?: number; lowerIsBetter?: boolean }): string {
  const W = o.width ?? 420;
  const row = 18;
  const m = { l: 150, r: 58, t: 26, b: 8 };
  const H = m.t + m.b + row * Math.max(1, o.bars.length);
  const vals = o.bars.map((b) => b.value).filter(Number.isFinite);
  const hi = Math.max(0, ...vals) || 1;
  const sx = (v: number) => m.l + (Math.max(0, v) / hi) * (W - m.l - m.r);
  const parts = [`<svg class="chart bars" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(o.title)}">`];
  parts.push(`<text class="ct" x="8" y="16">${esc(o.title)}${o.lowerIsBetter ? ' (lower is better)' : ''}</text>`);
  parts.push(`<line class="axis" x1="${m.l}" x2="${m.l}" y1="${m.t - 2}" y2="${H - m.b}"/>`);
  o.bars.forEach((b, i) => {
    const y = m.t + i * row;
    const label = b.label.length > 24 ? `${b.label.slice(0, 23)}…` : b.label;
    parts.push(`<g${b.muted ? ' class="muted"' : ''}><title>${esc(b.title ?? `${b.label}: ${Number.isFinite(b.value) ? b.value.toFixed(4) : '–'}`)}</title>`);
    parts.push(`<text class="lab" x="${m.l - 6}" y="${(y + row / 2).toFixed(1)}" text-anchor="end" dominant-baseline="middle"${b.muted ? ' font-style="italic"' : ''}>${esc(label)}</text>`);
    if (Number.isFinite(b.value)) {
      const x1 = sx(b.value);
      parts.push(`<rect x="${m.l}" y="${(y + 3).toFixed(1)}" width="${Math.max(1, x1 - m.l).toFixed(1)}" height="${row - 6}" fill="${b.color}"${b.muted ? ' fill-opacity="0.55" stroke="#555" stroke-dasharray="3 2"' : ''}/>`);
      parts.push(`<text class="tick" x="${(x1 + 4).toFixed(1)}" y="${(y + row / 2).toFixed(1)}" dominant-baseline="middle">${b.value.toFixed(4)}</text>`);
    } else {
      parts.push(`<text class="tick" x="${m.l + 4}" y="${(y + row / 2).toFixed(1)}" dominant-baseline="middle">–</text>`);
    }
    parts.push('</g>');
  });
  parts.push('</svg>');
  return parts.join('');
}
