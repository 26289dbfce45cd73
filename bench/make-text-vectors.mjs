#!/usr/bin/env node
// Writes random unit text vectors in the layout `irllrec train` reads (usr_prf.npy, itm_prf.npy,
// usr_int.npy, itm_int.npy), for timing the alignment models where the content does not matter.
// usage: node bench/make-text-vectors.mjs --data DATASET_DIR --out DIR [--prf 1536] [--int 3072] [--seed 1]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadDataset } from '../dist/data/dataset.js';
import { writeNpy } from '../dist/data/formats/numpy.js';
import { fillUnitRows, Rng } from '../dist/util/rng.js';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
if (!args.data || !args.out) {
  console.error('usage: node bench/make-text-vectors.mjs --data DATASET_DIR --out DIR [--prf 1536] [--int 3072] [--seed 1]');
  process.exit(2);
}
const ds = loadDataset(args.data);
mkdirSync(args.out, { recursive: true });
const rng = new Rng(Number(args.seed ?? 1));
const unit = (rows, dim) => fillUnitRows(rng, new Float32Array(rows * dim), dim);
const prf = Number(args.prf ?? 1536);
const int = Number(args.int ?? 3072);
for (const [name, rows, dim] of [['usr_prf', ds.numUsers, prf], ['itm_prf', ds.numItems, prf], ['usr_int', ds.numUsers, int], ['itm_int', ds.numItems, int]]) {
  writeNpy(join(args.out, `${name}.npy`), [rows, dim], unit(rows, dim));
  console.log(`${join(args.out, `${name}.npy`)} ${rows} x ${dim}`);
}
