/**
 * `irllrec report`: a self-contained HTML page for two small trained runs, checked as text and
 * rendered in headless Chromium (Debian's /usr/bin/chromium through playwright-core): no console
 * errors, no network requests, every section present; the screenshot is kept as a test artifact
 * (runs/test-artifacts/report.png, or $IRLLREC_TEST_ARTIFACTS). The baselines (fitted once on the
 * runs' data copy) appear as rows of the comparison; --no-baselines and runs without a data copy
 * (older runs) leave them out with a note.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainCommand } from '../src/cli/train.js';
import { reportBaselineNames, reportCommand } from '../src/cli/serve-commands.js';
import type { Dataset } from '../src/data/dataset.js';
import { groupRuns, renderReport, reportBaselines, writeReport, type ReportRun } from '../src/report/report.js';
import { repoRoot } from './shared.js';
import { splitsDataset, withQuietStderr, writeTextVectors } from './helpers/datasets.js';

const CHROMIUM = process.env.IRLLREC_CHROMIUM ?? '/usr/bin/chromium';
const artifacts = process.env.IRLLREC_TEST_ARTIFACTS ?? join(repoRoot, 'runs', 'test-artifacts');

function dataset(): string {
  const dir = splitsDataset('irllrec-report-', { perUser: 9, splitAt: [6, 7], item: (u, k) => (u * 7 + k * 3 + (u % 4)) % 40 });
  writeFileSync(join(dir, 'items.tsv'), `id\tkey\ttitle\n${Array.from({ length: 40 }, (_, i) => `${i}\tm${i}\t<Film> ${i} & "friends"`).join('\n')}\n`);
  writeTextVectors(dir, { users: 60, items: 40, profileDim: 8, intentDim: 8, value: (i, w) => Math.sin(i * 0.37 + w) });
  return dir;
}

async function train(data: string, model: string, out: string, extra: string[]): Promise<void> {
  await withQuietStderr(() => trainCommand({ data, model, out, set: ['train.batch_size=64', 'train.test_step=1', 'train.patience=2', 'train.epoch=8', ...extra] }));
}

let html: string;
let file: string;
let base: string;
const progress: string[] = [];

/** The rows of the comparison tables: [first cell's text, numeric cells...]. */
function rows(page: string, cls: string): string[][] {
  return [...page.matchAll(new RegExp(`<tr class="${cls}">(.*?)</tr>`, 'g'))].map((m) => [...m[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]!.replace(/<[^>]+>/g, '')));
}

beforeAll(async () => {
  const data = dataset();
  base = mkdtempSync(join(tmpdir(), 'irllrec-report-runs-'));
  await train(data, 'lightgcn', join(base, 'lightgcn'), []);
  await train(data, 'lightgcn_int', join(base, 'lightgcn_int'), ['model.intent_num=6']);
  file = join(base, 'report.html');
  await writeReport({ runs: [join(base, 'lightgcn'), join(base, 'lightgcn_int')], out: file, examples: 2, progress: (l) => progress.push(l) });
  html = readFileSync(file, 'utf8');
}, 120_000);

describe('report', () => {
  it('has every section, escapes text, and fetches nothing', () => {
    for (const h of ['Runs', 'Test metrics', 'Training curves', 'Validation metrics over epochs', 'Intent prototypes', 'Example explanations']) expect(html).toContain(`<h2>${h}</h2>`);
    expect(html).toContain('Improv. (best vs runner-up)');
    expect(html).toContain('bpr_loss');
    expect(html).toContain('kd_int_loss');
    expect(html).toContain('validation recall@20');
    expect(html).toMatch(/items by dominant intent/);
    expect(html).toContain('&lt;Film&gt;');
    expect(html).not.toContain('<Film>');
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).toContain("default-src 'none'");
  });

  it('shows the baselines as rows of the comparison, fitted once for the two runs of one dataset', () => {
    const base = rows(html, 'baseline');
    expect(base.map((r) => r[0])).toEqual([
'Most popular baseline', 'Item-kNN baseline', 'EASE baseline']);
    expect(html).toMatch(/Baselines on \S+ \(60 users, 40 items\): Most popular; fit [\d.]+s, eval [\d.]+s; Item-kNN: neighbours 100, shrink 10; .*; EASE: λ \d+/);
    for (const r of base) {
      // every column has a number (the same columns as the runs: every metric at every K)
      expect(r.length).toBeGreaterThan(10);
      for (const v of r.slice(1)) expect(v).toMatch(/^\d\.\d{4}$/);
    }
    expect(html).toContain('<th>Recall@20</th>');
    expect(html).toContain('Best model vs best baseline');
    expect(rows(html, 'improv vsbase')[0]!.slice(1).every((v) => /^[+−]?\d+\.\d{2}%$|^–$/.test(v))).toBe(true);
    expect(html).toMatch(/test recall@20<\/text>/);
    // one fit per baseline for the two runs (one dataset, one data copy)
    expect(progress.filter((l) => /baselines on /.test(l))).toHaveLength(1);
    expect(progress.filter((l) => /\[ease\] fit /.test(l))).toHaveLength(1);
  });

  it('--no-baselines and --baselines choose them; a run without its data copy still renders, with a note', async () => {
    expect(reportBaselineNames(undefined)).toEqual(['mostpop', 'itemknn', 'ease']);
    expect(reportBaselineNames(false)).toEqual([]);
    expect(reportBaselineNames('itemknn, mostpop')).toEqual(['itemknn', 'mostpop']);
    expect(() => reportBaselineNames('itemknn,slim')).toThrow(/unknown baseline "slim"/);
    const run = join(base, 'lightgcn');
    await withQuietStderr(async () => {
      await reportCommand({ run: [run], out: join(base, 'none.html'), examples: '0', baselines: false });
      await reportCommand({ run: [run], out: join(base, 'two.html'), examples: '0', baselines: 'mostpop,itemknn' });
    });
    const none = readFileSync(join(base, 'none.html'), 'utf8');
    expect(rows(none, 'baseline')).toEqual([]);
    expect(none).not.toContain('Item-kNN');
    expect(none).not.toContain('Best model vs best baseline');
    expect(none).toContain('Baselines were not fitted (--no-baselines)');
    const two = readFileSync(join(base, 'two.html'), 'utf8');
    expect(rows(two, 'baseline').map((r) => r[0]!.split(' ')[0])).toEqual(['Most', 'Item-kNN']);
    // an older run: no RUN/data/ (its model still opens from the dataset directory run.json names)
    const old = join(base, 'old-run');
    cpSync(run, old, { recursive: true });
    rmSync(join(old, 'data'), { recursive: true });
    const logs: string[] = [];
    await writeReport({ runs: [old], out: join(base, 'old.html'), examples: 0, log: (l) => logs.push(l) });
    const page = readFileSync(join(base, 'old.html'), 'utf8');
    expect(logs).toEqual([]);
    expect(rows(page, 'baseline')).toEqual([]);
    expect(page).toMatch(/No baselines for \S+: old-run has no data copy/);
    expect(page).toContain('<h2>Test metrics</h2>');
    // with a run that has one, of the same dataset: one table, the baselines of that copy
    await writeReport({ runs: [old, run], out: join(base, 'mixed.html'), examples: 0 });
    const mixed = readFileSync(join(base, 'mixed.html'), 'utf8');
    expect(rows(mixed, 'baseline')).toHaveLength(3);
    expect(mixed.match(/<table class="cmp sortable">/g)).toHaveLength(1);
    expect(mixed).toContain('old-run: no data copy of its own; the baselines are those of the other runs&#39; copy');
  });

  it('groups runs by dataset name, then by data copy', () => {
    const r = (label: string, dataset: string, dataId: string | null) => ({ label, rec: null, dataId, info: { summary: { dataset }, meta: { data: `/x/${dataset}` } } }) as unknown as Parameters<typeof groupRuns>[0][number];
    const g = groupRuns([r('a', 'ml', 'aaaaaaaaaaaa'), r('b', 'ml', 'bbbbbbbbbbbb'), r('c', 'ml', null), r('d', 'book', null), r('e', 'book', 'cccc')]);
    expect(g.map((x) => [x.title, x.dataId, x.runs.map((y) => y.label).join('')])).toEqual([
      ['ml (splits aaaaaaaa)', 'aaaaaaaaaaaa', 'a'], ['ml (splits bbbbbbbb)', 'bbbbbbbbbbbb', 'b'], ['ml (no data copy)', null, 'c'], ['book', 'cccc', 'de'],
    ]);
  });

  it('runs with recall/NDCG only (older summaries) get a compact table of the other metrics at the largest K', () => {
    expect(html).not.toContain('Beyond recall and NDCG'); // these runs' summaries have every metric
    const run = { label: 'old', rec: null, dataId: 'id1', info: { model: 'lightgcn', meta: { data: '/x/ml' }, history: null, summary: { dataset: 'ml', test: { 'recall@10': 0.1, 'recall@20': 0.2, 'ndcg@10': 0.05, 'ndcg@20': 0.07 } } } } as unknown as ReportRun;
    const test = { 'recall@10': 0.12, 'recall@20': 0.25, 'ndcg@10': 0.06, 'ndcg@20': 0.08, 'hit@20': 0.5, 'mrr@20': 0.3, 'map@20': 0.1, 'coverage@20': 0.4, 'gini@20': 0.9, 'hit@10': 0.4 };
    const page = renderReport([run], {
      examples: 0,
      baselines: { enabled: true, byData: new Map([['id1', { dataset: 'ml', users: 10, items: 30, notes: [], results: [{ model: 'itemknn', params: {}, fit_seconds: 0, eval_seconds: 0, valid: {}, test }] }]]) },
    });
    expect(page).toContain('Beyond recall and NDCG, at K = 20');
    const tables = page.match(/<table class="cmp sortable">.*?<\/table>/g)!;
    expect(tables).toHaveLength(2);
    expect(tables[0]).not.toContain('hit@20');
    expect(rows(tables[1]!, 'baseline')[0]!.slice(1)).toEqual(['0.5000', '0.3000', '0.1000', '0.4000', '0.9000']);
    expect(tables[1]).toMatch(/old <span class="small">lightgcn<\/span><\/td>(<td class="num ">–<\/td>){5}/);
    // the margin over the best baseline: negative where the baseline wins
    expect(rows(tables[0]!, 'improv vsbase')[0]!.slice(1)).toEqual(['−16.67%', '−20.00%', '−16.67%', '−12.50%']);
  });

  it('EASE is skipped above 20,000 items, with a note', () => {
    const ds = { name: 'big', numUsers: 100, numItems: 20_001 } as Dataset;
    const run = { label: 'r', dataId: 'id', info: { config: { test: { k: [20] } }, summary: { test: { 'recall@20': 0.1 } } } } as unknown as ReportRun;
    const b = reportBaselines([run], new Map([['id', () => ds]]), ['ease']);
    expect(b.byData.get('id')!.results).toEqual([]);
    expect(b.byData.get('id')!.notes.join(' ')).toMatch(/EASE skipped: 20,001 items, more than the report's 20,000/);
  });

  it('renders in headless Chromium without console errors (screenshot kept)', async (ctx) => {
    if (!existsSync(CHROMIUM)) {
      console.warn(`report test: ${CHROMIUM} not found, skipping the browser check (apt-get install -y chromium)`);
      ctx.skip();
      return;
    }
    let chromium: typeof import('playwright-core').chromium;
    try {
      ({ chromium } = await import('playwright-core'));
    } catch {
      console.warn('report test: playwright-core is not installed, skipping the browser check');
      ctx.skip();
      return;
    }
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) problems.push(`request: ${r.url()}`);
      });
      await page.goto(`file://${file}`);
      await page.waitForSelector('body[data-ready="1"]', { timeout: 15_000 });
      expect(await page.locator('svg.chart').count()).toBeGreaterThan(4);
      expect(await page.locator('svg.map circle').count()).toBeGreaterThan(10);
      expect(await page.locator('.card').count()).toBeGreaterThan(0);
      expect(await page.locator('table.cmp tr.baseline').count()).toBe(3);
      expect(await page.locator('svg.bars').count()).toBe(2);
      // the comparison table sorts on a header click
      await page.locator('table.cmp th').nth(1).click();
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'report.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
