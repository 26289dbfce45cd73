#!/usr/bin/env node
// `npm run bench`: kernel GFLOP/s (native next to the TypeScript reference) for the shapes in
// ../shared/design/ARCHITECTURE.md, then LightGCN seconds per epoch and one full-ranking test
// evaluation on ../shared/datasets/irllrec-amazon-book. Not part of the tests.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const step = (title, cmd, args, env = {}) => {
  console.log(`# ${title}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exitCode = 1;
};
step('kernels', process.execPath, [join(root, 'bench', 'kernels.mjs')]);
const data = join(root, '..', 'shared', 'datasets', 'irllrec-amazon-book');
if (existsSync(data)) {
  step('lightgcn on irllrec-amazon-book, 3 epochs + test evaluation', process.execPath,
    [join(root, 'dist', 'cli', 'main.js'), 'train', '--data', data, '--model', 'lightgcn', '--epochs', '3', '--json'],
    { IRLLREC_NO_PROGRESS: '1' });
} else {
  console.log(`# skipped lightgcn: ${data} not found`);
}
