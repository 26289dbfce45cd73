#!/usr/bin/env node
// Replays every golden fixture in DIR that the project supports and prints one JSON line per
// model and variant: {"model","variant","max_rel_err","terms_checked"}; unsupported models print
// {"model","supported":false}. Needs the compiled library (npm run build:ts).
// usage: node bench/fixture-report.mjs ../shared/fixtures
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isSupportedFixture, loadFixture, replayFixture } from '../dist/fixtures/replay.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node bench/fixture-report.mjs FIXTURE_DIR');
  process.exit(2);
}
const files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'index.json' && f !== 'metrics.json').sort();
let failed = false;
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
process.exit(failed ? 1 : 0);
