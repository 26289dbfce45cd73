/**
 * `irllrec demo` end to end, offline, on a small MovieLens directory (the bundled data's first 25
 * users) with --epochs 1: the three-model table, the example recommendations with intents, --json,
 * and --out keeping (and reusing) the intermediate dataset.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeMovieLensSubset } from './helpers/datasets.js';
import { runCli } from './helpers/llm-server.js';

let ml: string;
let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'irllrec-demo-test-'));
  ml = writeMovieLensSubset(join(base, 'ml'), 25);
});

describe('irllrec demo', () => {
  it('prints the comparison table and one user\'s recommendations with the intents behind them', async () => {
    const r = await runCli(['demo', '--data', ml, '--epochs', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| model \| Recall@5 \| Recall@10 \| Recall@20 \| NDCG@5 \| NDCG@10 \| NDCG@20 \| epochs \| seconds \|/);
    for (const m of ['LightGCN \\(lightgcn\\)', 'RLMRec-Con \\(lightgcn_plus\\)', 'IRLLRec \\(lightgcn_int\\)']) {
      expect(r.stdout).toMatch(new RegExp(`\\| ${m} \\| (0\\.\\d{4} \\| ){6}1 \\|`));
    }
    expect(r.stdout).toMatch(/Recommendations by IRLLRec for MovieLens user \d+/);
    for (const b of ['Most popular \\(baseline mostpop\\)', 'Item-kNN \\(baseline itemknn\\)', 'EASE \\(baseline ease\\)']) {
      expect(r.stdout).toMatch(new RegExp(`\\| ${b} \\| (0\\.\\d{4} \\| ){6}- \\|`));
    }
    expect(r.stdout).toMatch(/user intent \(offline\): likes .* \/ (dislikes|rarely chooses) /);
    expect(r.stdout.match(/item intent: attracts .* \/ does not suit /g)).toHaveLength(5);
    expect(r.stdout).toMatch(/Total [\d.]+s \(ingest/);
    expect(r.stderr).toMatch(/\[1\/5\] ingest/);
    expect(r.stderr).toMatch(/\[4\/5\] train/);
  });

  it('--json, --user and --out (kept for inspection); a bad --user fails before any training', async () => {
    const out = join(base, 'kept');
    const r = await runCli(['demo', '--data', ml, '--epochs', '1', '--json', '--out', out, '--user', '5']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.models.map((m: { model: string }) => m.model)).toEqual(['lightgcn', 'lightgcn_plus', 'lightgcn_int']);
    expect(j.example.user).toBe('5');
    expect(j.example.recommendations).toHaveLength(5);
    expect(j.dataset.users).toBe(25);
    for (const f of ['ingest.json', 'text/profile.json', 'embed.json', 'usr_int.npy']) expect(existsSync(join(out, 'dataset', f))).toBe(true);
    // the runs are kept, self-contained, and serve
    expect(j.runs.lightgcn_int).toBe(join(out, 'runs', 'lightgcn_int'));
    for (const m of ['lightgcn', 'lightgcn_plus', 'lightgcn_int']) expect(existsSync(join(out, 'runs', m, 'model.safetensors'))).toBe(true);
    expect(r.stderr).toMatch(/irllrec recommend --run .*runs\/lightgcn_int --user 5/);
    const rec = await runCli(['recommend', '--run', j.runs.lightgcn_int, '--user', '5', '-k', '3', '--json']);
    expect(rec.code, rec.stderr).toBe(0);
    expect(JSON.stringify(JSON.parse(rec.stdout))).toMatch(/"items":\[/);
    // the baselines are in the comparison
    expect(j.baselines.map((b: { model: string }) => b.model)).toEqual(['mostpop', 'itemknn', 'ease']);
    const bad = await runCli(['demo', '--data', ml, '--epochs', '1', '--user', 'nobody', '--out', out]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--user nobody: no such MovieLens userId/);
    expect(bad.stderr).not.toMatch(/\[2\/5\]/);
  });
});
