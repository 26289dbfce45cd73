/**
 * `irllrec report`: one self-contained HTML page (inline CSS, SVG and a few lines of JS; a
 * Content-Security-Policy that forbids every network fetch) about one or more runs:
 * 1. the runs (model, dataset, protocol, epochs, speed);
 * 2. test metrics side by side, like the paper's table (best per column bold, runner-up
 *    underlined, improvement of the best over the runner-up);
 * 3. training curves, one chart per loss term, a line per run;
 * 4. validation metrics over epochs (best epoch marked);
 * 5. for models with intent prototypes, a 2-D map (PCA of the normalised item embeddings) of the
 *    items coloured by their dominant intent, each intent drawn at the centroid of the items it dominates;
 * 6. example explanations: recommendations for a few users with the intents and text behind them.
 */
import { statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../cli/errors.js';
import { fsReason, outputProblem, writeFileAtomic } from '../util/atomic.js';
import { readRunInfo, type RunInfo } from '../serve/run.js';
import { Recommender, type Explanation } from '../serve/recommender.js';
import { esc, fmt, lineChart, PALETTE, scatter, type Marker, type ScatterPoint, type Series } from './svg.js';

export interface ReportOptions {
  runs: string[];
  out: string;
  title?: string;
  /** example users per run (default 3) */
  examples?: number;
  log?: (s: string) => void;
}

export interface ReportRun {
  label: string;
  info: RunInfo;
  rec: Recommender | null;
  /** why the model could not be loaded (curves and tables still work) */
  recError?: string;
}

const METRIC_ORDER = (k: string) => {
  const [name, at] = k.split('@');
  return `${name === 'recall' ? 0 : name === 'ndcg' ? 1 : 2}${name}${String(Number(at ?? 0)).padStart(5, '0')}`;
};

function uniqueLabels(dirs: string[]): string[] {
  const base = dirs.map((d) => basename(d));
  return base.map((b, i) => (base.indexOf(b) !== i || base.lastIndexOf(b) !== i ? `${b} (${i + 1})` : b));
}

function runsTable(runs: ReportRun[]): string {
  const rows = runs.map((r, i) => {
    const s = r.info.summary ?? {};
    const h = r.info.history;
    return `<tr><td><span class="sw" style="background:${PALETTE[i % PALETTE.length]}"></span>${esc(r.label)}</td><td>${esc(r.info.model)}</td><td>${esc(s.dataset ?? basename(r.info.meta.data))}</td>` +
      `<td>${esc(s.epochs_run ?? h?.epochs.length ?? '')}</td><td>${esc(s.best_epoch ?? '')}</td><td>${s.train_seconds_per_epoch !== undefined ? esc(fmt(Number(s.train_seconds_per_epoch))) : ''}</td>` +
      `<td class="small">${esc(s.protocol ?? '')}</td><td class="small">${esc(s.kernels ?? '')}</td></tr>`;
  });
  return `<table class="sortable"><thead><tr><th>run</th><th>model</th><th>dataset</th><th>epochs</th><th>best epoch</th><th>s / epoch</th><th>protocol</th><th>kernels</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function comparisonTable(runs: ReportRun[]): string {
  const withTest = runs.filter((r) => r.info.summary && typeof r.info.summary.test === 'object' && r.info.summary.test);
  if (!withTest.length) return '<p class="note">No run has test metrics (summary.json) yet.</p>';
  const metrics = [...new Set(withTest.flatMap((r) => Object.keys(r.info.summary!.test as object)))].sort((a, b) => (METRIC_ORDER(a) < METRIC_ORDER(b) ? -1 : 1));
  const byData = new Map<string, ReportRun[]>();
  for (const r of withTest) {
    const d = String(r.info.summary!.dataset ?? basename(r.info.meta.data));
    byData.set(d, [...(byData.get(d) ?? []), r]);
  }
  const parts: string[] = [];
  for (const [dataset, rs] of byData) {
    const val = (r: ReportRun, m: string) => Number((r.info.summary!.test as Record<string, number>)[m]);
    const head = `<tr><th>${esc(dataset)}</th>${metrics.map((m) => `<th>${esc(m.replace('recall', 'Recall').replace('ndcg', 'NDCG'))}</th>`).join('')}</tr>`;
    const rank = new Map<string, number[]>();
    for (const m of metrics) rank.set(m, [...new Set(rs.map((r) => val(r, m)).filter(Number.isFinite))].sort((a, b) => b - a));
    const body = rs.map((r) => `<tr><td>${esc(r.label)} <span class="small">${esc(r.info.model)}</span></td>${metrics.map((m) => {
      const v = val(r, m);
      const order = rank.get(m)!;
      const cls = rs.length > 1 && v === order[0] ? 'best' : rs.length > 2 && v === order[1] ? 'second' : '';
      return `<td class="num ${cls}">${Number.isFinite(v) ? v.toFixed(4) : '–'}</td>`;
    }).join('')}</tr>`);
    if (rs.length > 1) {
      body.push(`<tr class="improv"><td>Improv. (best vs runner-up)</td>${metrics.map((m) => {
        const o = rank.get(m)!;
        return `<td class="num">${o.length > 1 && o[1]! > 0 ? `${(((o[0]! - o[1]!) / o[1]!) * 100).toFixed(2)}%` : '–'}</td>`;
      }).join('')}</tr>`);
    }
    parts.push(`<table class="cmp sortable"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>`);
  }
  return parts.join('');
}

function lossCharts(runs: ReportRun[]): string {
  const names = [...new Set(runs.flatMap((r) => (r.info.history?.epochs ?? []).flatMap((e) => Object.keys(e.losses))))];
  if (!names.length) return '<p class="note">No training history (history.json) in these runs.</p>';
  names.sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : 0));
  return names.map((n) => {
    const series: Series[] = runs.map((r, i) => ({
      name: r.label,
      color: PALETTE[i % PALETTE.length]!,
      points: (r.info.history?.epochs ?? []).filter((e) => n in e.losses).map((e) => [e.epoch, e.losses[n]!] as [number, number]),
    })).filter((s) => s.points.length);
    return lineChart({ title: n === 'loss' ? 'total loss' : n, series, xLabel: 'epoch' });
  }).join('');
}

function validCharts(runs: ReportRun[]): string {
  const evals = (r: ReportRun) => (r.info.history?.evals ?? []).filter((e) => e.split === 'valid');
  const metrics = [...new Set(runs.flatMap((r) => evals(r).flatMap((e) => Object.keys(e.metrics))))].sort((a, b) => (METRIC_ORDER(a) < METRIC_ORDER(b) ? -1 : 1));
  if (!metrics.length) return '<p class="note">No validation evaluations recorded.</p>';
  return metrics.map((m) => lineChart({
    title: `validation ${m}`,
    xLabel: 'epoch',
    series: runs.map((r, i) => ({
      name: r.label,
      color: PALETTE[i % PALETTE.length]!,
      points: evals(r).filter((e) => m in e.metrics).map((e) => [e.epoch, e.metrics[m]!] as [number, number]),
      mark: typeof r.info.summary?.best_epoch === 'number' ? (r.info.summary.best_epoch as number) : undefined,
    })).filter((s) => s.points.length),
  })).join('');
}

/** Top-2 principal directions of rows (n x d) by power iteration with deflation. */
function pca2(X: Float32Array, n: number, d: number): { mean: Float64Array; v: Float64Array[] } {
  const mean = new Float64Array(d);
  for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) mean[c]! += X[r * d + c]! / n;
  const C = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    for (let a = 0; a < d; a++) {
      const xa = X[r * d + a]! - mean[a]!;
      for (let b = a; b < d; b++) C[a * d + b]! += xa * (X[r * d + b]! - mean[b]!);
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) C[a * d + b] = C[b * d + a]!;
  const vs: Float64Array[] = [];
  for (let k = 0; k < 2; k++) {
    let v = Float64Array.from({ length: d }, (_, i) => Math.sin(i * 1.7 + k + 1));
    for (let it = 0; it < 200; it++) {
      const w = new Float64Array(d);
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) w[a]! += C[a * d + b]! * v[b]!;
      for (const u of vs) {
        let p = 0;
        for (let a = 0; a < d; a++) p += w[a]! * u[a]!;
        for (let a = 0; a < d; a++) w[a]! -= p * u[a]!;
      }
      const nrm = Math.hypot(...w) || 1;
      v = w.map((x) => x / nrm);
    }
    vs.push(v);
  }
  return { mean, v: vs };
}

function intentMap(r: ReportRun, maxPoints = 2500): string {
  const rec = r.rec;
  const m = rec?.intents;
  if (!rec || !m) return '';
  const { item, dim } = rec.embeddings();
  const n = rec.numItems;
  const X = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < dim; c++) s += item[i * dim + c]! ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let c = 0; c < dim; c++) X[i * dim + c] = item[i * dim + c]! * inv;
  }
  const { mean, v } = pca2(X, n, dim);
  const proj = (i: number): [number, number] => {
    let a = 0;
    let b = 0;
    for (let c = 0; c < dim; c++) {
      const x = X[i * dim + c]! - mean[c]!;
      a += x * v[0]![c]!;
      b += x * v[1]![c]!;
    }
    return [a, b];
  };
  const K = m.K;
  const dominant = new Int32Array(n);
  const count = new Int32Array(K);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (m.itemW[i * K + k]! > m.itemW[i * K + best]!) best = k;
    dominant[i] = best;
    count[best]!++;
  }
  const topIntents = Array.from({ length: K }, (_, k) => k).filter((k) => count[k]! > 0).sort((a, b) => count[b]! - count[a]! || a - b).slice(0, 10);
  const colorOf = new Map(topIntents.map((k, j) => [k, PALETTE[j]!]));
  const step = Math.max(1, Math.ceil(n / maxPoints));
  const pts: ScatterPoint[] = [];
  for (let i = 0; i < n; i += step) {
    const [x, y] = proj(i);
    const k = dominant[i]!;
    pts.push({ x, y, color: colorOf.get(k) ?? '#c8c8c8', r: colorOf.has(k) ? 2.6 : 1.8, title: `${rec.items.title(i) ?? rec.items.key(i)} — dominant intent I${k} (${(m.itemW[i * K + k]! * 100).toFixed(1)}%)` });
  }
  const markers: Marker[] = topIntents.map((k) => {
    let wx = 0;
    let wy = 0;
    let ws = 0;
    for (let i = 0; i < n; i++) {
      if (dominant[i] !== k) continue;
      const w = m.itemW[i * K + k]!;
      const [x, y] = proj(i);
      wx += w * x;
      wy += w * y;
      ws += w;
    }
    const label = rec.intentLabel('item', k, 3);
    return {
      x: ws > 0 ? wx / ws : 0, y: ws > 0 ? wy / ws : 0, label: `I${k}`, color: colorOf.get(k)!,
      title: `item intent I${k}: dominant for ${count[k]} items; e.g. ${label.items.map((it) => it.title ?? it.item).join(', ')}${label.terms.length ? `; terms: ${label.terms.join(', ')}` : ''}`,
    };
  });
  const legend = topIntents.map((k) => {
    const label = rec.intentLabel('item', k, 2);
    return `<li><span class="sw" style="background:${colorOf.get(k)}"></span><b>I${k}</b> (${count[k]} items) ${esc(label.terms.slice(0, 4).join(', ') || label.items.map((it) => it.title ?? it.item).join(', '))}</li>`;
  }).join('');
  return `<div class="mapbox">${scatter(pts, markers, { title: `${r.label}: items by dominant intent (PCA of normalised item embeddings; ${m.K} intents)` })}` +
    `<ul class="legend">${legend}<li><span class="sw" style="background:#c8c8c8"></span>other intents</li></ul></div>` +
    `<p class="note">Points: ${pts.length} of ${n} items${step > 1 ? ` (every ${step}th)` : ''}, coloured by the intent with the largest weight (the 10 most common intents; grey: the rest). Diamonds: each intent at the weighted centroid of the items it dominates. Intent weights: ${esc(m.source)}. Hover for names.</p>`;
}

function bar(w: number, color: string): string {
  return `<span class="bar"><span style="width:${Math.max(1, Math.min(100, w * 100)).toFixed(1)}%;background:${color}"></span></span>`;
}

function explanationCard(e: Explanation, hit: boolean, n: number): string {
  const parts: string[] = [];
  parts.push(`<div class="card"><div class="ch"><b>${n}. ${esc(e.title ?? e.item)}</b> <span class="small">id ${esc(e.item)} · score ${e.score.toFixed(4)} · rank ${e.rank}</span>${hit ? ' <span class="hit" title="in the user\'s test split">test hit ✓</span>' : ''}</div>`);
  if (e.intents) {
    const u = e.intents.user.map((s) => `<li>${bar(s.lift / 8, '#1f77b4')} <b>${s.intent}</b> ${(s.weight * 100).toFixed(2)}% (×${s.lift.toFixed(2)} uniform) · adds ${fmt(s.contribution ?? 0)}${s.text?.length ? ` · <i>${esc(s.text.join('; '))}</i>` : ''}<br><span class="small">favours ${esc(s.label.items.map((it) => it.title ?? it.item).join(', '))}${s.label.terms.length ? ` · ${esc(s.label.terms.join(', '))}` : ''}</span></li>`).join('');
    const it = e.intents.item.map((s) => `<li>${bar(s.lift / 8, '#d62728')} <b>${s.intent}</b> ${(s.weight * 100).toFixed(2)}% (×${s.lift.toFixed(2)} uniform)${s.text?.length ? ` · <i>${esc(s.text.join('; '))}</i>` : ''}<br><span class="small">also ${esc(s.label.items.map((x) => x.title ?? x.item).join(', '))}${s.label.terms.length ? ` · ${esc(s.label.terms.join(', '))}` : ''}</span></li>`).join('');
    parts.push(`<div class="cols"><div><div class="small">user intents behind the score</div><ul>${u}</ul></div><div><div class="small">item intents</div><ul>${it}</ul></div></div>`);
    parts.push(`<div class="small">intent agreement cos(ê<sub>u</sub>, ê<sub>i</sub>) = ${e.intents.agreement.toFixed(3)}; intents explain ${fmt(e.intents.explained)} of the score, the rest ${fmt(e.intents.residual)}</div>`);
  }
  if (e.text) parts.push(`<div class="small">item: <i>${esc(e.text.item.intent)}</i></div>`);
  if (e.because.length) parts.push(`<div class="small">because the user liked ${esc(e.because.map((b) => b.title ?? b.item).join(', '))}</div>`);
  parts.push('</div>');
  return parts.join('');
}

function examples(r: ReportRun, count: number, k = 5): string {
  const rec = r.rec;
  if (!rec || count <= 0) return '';
  const users: string[] = [];
  // users with some history and test items, spread over the id range (deterministic)
  const stride = Math.max(1, Math.floor(rec.numUsers / (count * 4)));
  for (let u = 0; u < rec.numUsers && users.length < count; u += stride) {
    const id = rec.users.key(u);
    if (rec.seenIndices(id).length >= 5 && rec.heldOutIndices(id, 'test').length > 0) users.push(id);
  }
  const blocks = users.map((id) => {
    const res = rec.recommend(id, { k });
    const test = new Set(rec.heldOutIndices(id, 'test'));
    const first = res.items[0] ? rec.explain(id, res.items[0].item) : null;
    const head = `<h4>user ${esc(id)} <span class="small">${rec.seenIndices(id).length} training items, ${test.size} test items</span></h4>` +
      (first?.text ? `<p class="small">profile: <i>${esc(first.text.user.profile)}</i><br>intent: <i>${esc(first.text.user.intent)}</i></p>` : '');
    const cards = res.items.map((it, n) => explanationCard(rec.explain(id, it.item), test.has(rec.itemIndex(it.item)), n + 1)).join('');
    return `<div class="user">${head}${cards}</div>`;
  });
  return `<h3>${esc(r.label)} <span class="small">${esc(r.info.model)}</span></h3>${blocks.join('') || '<p class="note">no user with history and test items</p>'}`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1d3557;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.85}
main{padding:8px 28px 40px;max-width:1400px}section{margin:22px 0}h2{border-bottom:2px solid #1d3557;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0;background:#fff}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}th{background:#eef2f7;cursor:pointer;user-select:none}
td.num{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:700}td.second{text-decoration:underline}tr.improv td{font-style:italic;background:#f6f6f6}
.small{font-size:12px;color:#666}.note{color:#666;font-size:12.5px}.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:middle}
.charts{display:flex;flex-wrap:wrap;gap:10px}.chart{background:#fff;border:1px solid #e3e3e3}.chart .ct{font-weight:600;font-size:13px}
.chart .tick{font-size:10px;fill:#555}.chart .lab{font-size:11px;fill:#444}.chart .grid{stroke:#eee}.chart .axis{stroke:#888}
.chart .line{fill:none;stroke-width:1.8}.chart .mark{fill:none;stroke-width:2}.proto text{font-size:11px;font-weight:700}
.mapbox{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}.legend{list-style:none;padding:0;margin:0;font-size:12.5px;max-width:420px}.legend li{margin:3px 0}
.user{background:#fff;border:1px solid #e3e3e3;padding:8px 14px;margin:12px 0}.card{border-top:1px solid #eee;padding:6px 0}
.cols{display:flex;gap:24px;flex-wrap:wrap}.cols>div{flex:1;min-width:300px}.cols ul{margin:2px 0;padding-left:16px}
.bar{display:inline-block;width:60px;height:8px;background:#eee;vertical-align:middle}.bar span{display:block;height:8px}
.hit{background:#2ca02c;color:#fff;border-radius:3px;padding:0 5px;font-size:12px}
`;

const JS = `
(function(){
  function key(td){var t=td.textContent.trim();var n=parseFloat(t);return isNaN(n)?t.toLowerCase():n;}
  document.querySelectorAll('table.sortable').forEach(function(table){
    table.querySelectorAll('thead th').forEach(function(th,col){
      th.title='click to sort';
      th.addEventListener('click',function(){
        var body=table.tBodies[0];if(!body)return;
        var rows=Array.prototype.slice.call(body.rows).filter(function(r){return !r.classList.contains('improv');});
        var fixed=Array.prototype.slice.call(body.rows).filter(function(r){return r.classList.contains('improv');});
        var dir=th.getAttribute('data-dir')==='desc'?1:-1;th.setAttribute('data-dir',dir===1?'asc':'desc');
        rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);return x<y?-dir:x>y?dir:0;});
        rows.concat(fixed).forEach(function(r){body.appendChild(r);});
      });
    });
  });
  document.body.setAttribute('data-ready','1');
})();
`;

export function renderReport(runs: ReportRun[], o: { title?: string; examples?: number } = {}): string {
  const title = o.title ?? `irllrec report: ${runs.map((r) => r.label).join(', ')}`;
  const maps = runs.map((r) => intentMap(r)).filter(Boolean);
  const noIntents = runs.filter((r) => r.rec && !r.rec.intents).map((r) => r.label);
  const failed = runs.filter((r) => !r.rec).map((r) => `${esc(r.label)}: ${esc(r.recError ?? 'not loaded')}`);
  const ex = runs.map((r) => examples(r, o.examples ?? 3)).filter(Boolean);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><header><h1>${esc(title)}</h1><p>generated ${esc(new Date().toISOString())} by irllrec · ${runs.length} run${runs.length > 1 ? 's' : ''}</p></header><main>
<section><h2>Runs</h2>${runsTable(runs)}${failed.length ? `<p class="note">Model not loaded (curves and tables only): ${failed.join('; ')}</p>` : ''}</section>
<section><h2>Test metrics</h2>${comparisonTable(runs)}<p class="note">Full ranking over all items with training items masked; bold: best, underlined: runner-up per column.</p></section>
<section><h2>Training curves</h2><div class="charts">${lossCharts(runs)}</div></section>
<section><h2>Validation metrics over epochs</h2><div class="charts">${validCharts(runs)}</div><p class="note">Circles: the best (restored) epoch.</p></section>
<section><h2>Intent prototypes</h2>${maps.join('') || '<p class="note">None of these models has intent prototypes (IRLLRec, DCCF and BIGCF do).</p>'}${noIntents.length && maps.length ? `<p class="note">No prototypes: ${esc(noIntents.join(', '))}.</p>` : ''}</section>
<section><h2>Example explanations</h2>${ex.join('') || '<p class="note">No loadable model to explain.</p>'}</section>
</main><script>${JS}</script></body></html>
`;
}

/**
 * Where the report goes: `out` itself, or `out/report.html` when `out` is an existing directory
 * (or ends in a slash), like `cp FILE DIR`. Checked before any run is read: a parent that is a
 * file, a read-only directory, ... fail at once with one line.
 */
export function reportPath(out: string): string {
  let file = resolve(out);
  let isDir = /[\\/]$/.test(out);
  try {
    isDir ||= statSync(file).isDirectory();
  } catch {
    // not there yet: a file to create
  }
  if (isDir) file = join(file, 'report.html');
  const problem = outputProblem(file, 'file');
  if (problem) throw new UsageError(`--out ${out}: cannot write the report there: ${problem}`);
  return file;
}

export async function writeReport(o: ReportOptions): Promise<{ out: string; runs: number; bytes: number }> {
  const out = reportPath(o.out);
  const dirs = o.runs.map((d) => resolve(d));
  const labels = uniqueLabels(dirs);
  const runs: ReportRun[] = dirs.map((d, i) => {
    const info = readRunInfo(d);
    let rec: Recommender | null = null;
    let recError: string | undefined;
    try {
      rec = Recommender.openSync(d, { embedder: null });
    } catch (e) {
      recError = (e as Error).message;
      o.log?.(`report: ${labels[i]}: model not loaded (${recError}); curves and tables only`);
    }
    return { label: labels[i]!, info, rec, ...(recError ? { recError } : {}) };
  });
  const html = renderReport(runs, { title: o.title, examples: o.examples });
  try {
    writeFileAtomic(out, html);
  } catch (e) {
    const why = fsReason(e);
    if (why) throw new UsageError(`--out ${o.out}: could not write the report (${(e as NodeJS.ErrnoException).path ?? out} ${why})`);
    throw e;
  }
  return { out, runs: runs.length, bytes: Buffer.byteLength(html) };
}
