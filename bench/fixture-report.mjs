#!/usr/bin/env node
// Replays every golden fixture in DIR that the project supports and prints one JSON line per
// model and variant: {"model","variant","max_rel_err","terms_checked"}; unsupported models print
// {"model","supported":false}. Exit status 1 when a replay errors or exceeds 1e-5.
// The replay harness is a test helper (test/helpers/replay.ts, not in dist): it is loaded from
// source through the Vite bundled with vitest, so neither a build nor a TS loader is needed.
// usage: node bench/fixture-report.mjs [FIXTURE_DIR]   (default: test/fixtures/golden)
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createViteServer } from 'vitest/node';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
if (args.length > 1 || args[0] === '-h' || args[0] === '--help') {
  console.error('usage: node bench/fixture-report.mjs [FIXTURE_DIR]   (default: test/fixtures/golden)');
  process.exit(2);
}
const dir = resolve(args[0] ?? join(root, 'test', 'fixtures', 'golden'));

let files;
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'index.json' && f !== 'metrics.json').sort();
} catch (e) {
  console.error(`fixture-report: cannot read ${dir}: ${e.message}`);
  process.exit(2);
}

const vite = await createViteServer({
  root,
  configFile: false,
  logLevel: 'error',
  appType: 'custom',
  server: { middlewareMode: true, hmr: false, watch: null, ws: false },
  optimizeDeps: { noDiscovery: true, include: [] },
});
let failed = false;
try {
  const { isSupportedFixture, loadFixture, replayFixture } = await vite.ssrLoadModule('/test/helpers/replay.ts');
  for (const f of files) {
    const fx = loadFixture(join(dir, f));
    if (!isSupportedFixture(fx)) {
      console.log(JSON.stringify({ model: fx.model, supported: false }));
      continue;
    }
    for (const variant of Object.keys(fx.variants)) {
      try {
        const r = replayFixture(fx, variant);
        console.log(JSON.stringify({ model: fx.model, variant, max_rel_err: r.maxRelErr, terms_checked: r.termsChecked }));
        if (!(r.maxRelErr <= 1e-5)) failed = true;
      } catch (e) {
        console.log(JSON.stringify({ model: fx.model, variant, error: e.message }));
        failed = true;
      }
    }
  }
} finally {
  await vite.close();
}
process.exit(failed ? 1 : 0);
