/**
 * `irllrec report`: a self-contained HTML page for two small trained runs, checked as text and
 * rendered in headless Chromium (Debian's /usr/bin/chromium through playwright-core): no console
 * errors, no network requests, every section present; the screenshot is kept as a test artifact
 * (runs/test-artifacts/report.png, or $IRLLREC_TEST_ARTIFACTS).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainCommand } from '../src/cli/train.js';
import { writeNpy } from '../src/data/formats/numpy.js';
import { writeReport } from '../src/report/report.js';
import { repoRoot } from './shared.js';

const CHROMIUM = process.env.IRLLREC_CHROMIUM ?? '/usr/bin/chromium';
const artifacts = process.env.IRLLREC_TEST_ARTIFACTS ?? join(repoRoot, 'runs', 'test-artifacts');

function dataset(): string {
  const dir = mkdtempSync(join(tmpdir(), 'irllrec-report-'));
  const lines: Record<string, string[]> = { train: [], valid: [], test: [] };
  for (let u = 0; u < 60; u++) {
    for (let k = 0; k < 9; k++) {
      const item = (u * 7 + k * 3 + (u % 4)) % 40;
      lines[k < 6 ? 'train' : k < 7 ? 'valid' : 'test']!.push(`${u}\t${item}`);
    }
  }
  for (const s of ['train', 'valid', 'test']) writeFileSync(join(dir, `${s}.tsv`), `user\titem\n${[...new Set(lines[s])].join('\n')}\n`);
  writeFileSync(join(dir, 'items.tsv'), `id\tkey\ttitle\n${Array.from({ length: 40 }, (_, i) => `${i}\tm${i}\t<Film> ${i} & "friends"`).join('\n')}\n`);
  for (const [name, rows, w] of [['usr_prf', 60, 8], ['itm_prf', 40, 8], ['usr_int', 60, 8], ['itm_int', 40, 8]] as const) {
    writeNpy(join(dir, `${name}.npy`), [rows, w], Float32Array.from({ length: rows * w }, (_, i) => Math.sin(i * 0.37 + w)));
  }
  return dir;
}

async function train(data: string, model: string, out: string, extra: string[]): Promise<void> {
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await trainCommand({ data, model, out, set: ['train.batch_size=64', 'train.test_step=1', 'train.patience=2', 'train.epoch=8', ...extra] });
  } finally {
    process.stderr.write = write;
  }
}

let html: string;
let file: string;

beforeAll(async () => {
  const data = dataset();
  const base = mkdtempSync(join(tmpdir(), 'irllrec-report-runs-'));
  await train(data, 'lightgcn', join(base, 'lightgcn'), []);
  await train(data, 'lightgcn_int', join(base, 'lightgcn_int'), ['model.intent_num=6']);
  file = join(base, 'report.html');
  await writeReport({ runs: [join(base, 'lightgcn'), join(base, 'lightgcn_int')], out: file, examples: 2 });
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
