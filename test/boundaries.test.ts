/**
 * The import boundaries between the folders of src/, written down once (LAYERS below) and checked
 * on every `npm test` (`npm run check:boundaries` runs this file alone). docs/architecture.md
 * describes the same layers.
 *
 * Rule: a file in folder F may import
 * - any file in F itself (sub-folders included: src/models/backbones/ is part of models), and
 * - any file in a folder of a LOWER layer (earlier in LAYERS),
 * and nothing else: not a folder of its own layer (the folders of one layer are independent of each
 * other), not a higher layer, nothing outside src/. Every kind of import counts: `import`,
 * `import type`, `export ... from`, side-effect `import '...'` and dynamic `import('...')`. Package
 * imports (`node:fs`, `commander`, ...) are not checked.
 *
 * The only edges allowed against the rule are listed in EXCEPTIONS, one file -> file each, with the
 * reason and what removes it; an exception that no longer matches any import fails too, so the list
 * only shrinks.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './shared.js';

/** Lowest first. A folder of src/ (or a file directly in src/) per entry; one inner list = one layer. */
export const LAYERS: readonly (readonly string[])[] = [
  ['kernels'], //             the native addon and its JavaScript twin: imports nothing
  ['util'], //                errors, RNG (its bulk draws use a kernel), limits, safetensors, atomic writes, package metadata
  ['tensor'], //              Tensor, Arena, tape and differentiable ops
  ['nn'], //                  parameters, initialisers, MLP, Adam, EMA
  ['data'], //                datasets, file formats, graphs, samplers, text vectors
  ['eval'], //                metrics and blocked full ranking
  ['config'], //              schema, defaults, config loading
  ['models'], //              backbones, alignments, composed model, registry
  ['train'], //               the trainer and its checkpoints
  ['ingest', 'synth', 'baselines'], // raw reviews -> dataset directory; synthetic worlds; non-graph baselines
  ['text'], //                profiles (LLM / offline), embeddings, the text store
  ['run'], //                 run directories: layout, write, snapshot, verify, open, re-evaluate
  ['serve', 'tune'], //       Recommender, HTTP service, exports; hyper-parameter search
  ['report'], //              the HTML report (uses the Recommender for its examples)
  ['cli'], //                 the `irllrec` command line
  ['index.ts'], //            the public library surface
];

/**
 * Imports allowed against LAYERS, `from -> to` as paths under src/. Keep this list short: each
 * entry says why it exists and what removes it.
 */
export const EXCEPTIONS: readonly { from: string; to: string; why: string }[] = [];

/**
 * Serving knows models only through their interfaces (models/types.ts: ServableModel, the
 * backbone's and the alignment's types.ts) and the registry, never a concrete backbone, alignment
 * or composition class: a new variant needs no change in src/serve/.
 */
const serveMayImport = (target: string): boolean => /^models\/(.+\/)?types\.ts$/.test(target) || target === 'models/registry.ts';

/** Imports of src/serve/ files that reach a concrete model module. */
export function serveModelImports(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const file of files.filter((f) => folderOf(f.path) === 'serve')) {
    for (const imp of importsOf(file)) {
      if (imp.target === null || folderOf(imp.target) !== 'models' || serveMayImport(imp.target)) continue;
      out.push({
        file: file.path, line: imp.line, specifier: imp.specifier, from: 'serve', to: 'models',
        why: 'serving imports a concrete model module; use the interfaces in models/types.ts (ServableModel) or the registry',
      });
    }
  }
  return out;
}

export interface SourceFile {
  /** Path under src/, with forward slashes (e.g. 'ingest/index.ts'). */
  path: string;
  text: string;
}

export interface Violation {
  file: string;
  line: number;
  specifier: string;
  from: string;
  to: string;
  why: string;
}

/** The layer table's folder of a path under src/ ('models/backbones/sgl.ts' -> 'models'; 'index.ts' -> 'index.ts'). */
export function folderOf(path: string): string {
  return path.split('/')[0]!;
}

function layerIndex(layers: readonly (readonly string[])[]): Map<string, number> {
  const m = new Map<string, number>();
  layers.forEach((l, i) => l.forEach((f) => {
    if (m.has(f)) throw new Error(`boundaries: ${f} is in two layers`);
    m.set(f, i);
  }));
  return m;
}

/** The folders `folder` may import (lower layers), for messages and docs. */
export function allowedTargets(folder: string, layers = LAYERS): string[] {
  const idx = layerIndex(layers).get(folder);
  return idx === undefined ? [] : layers.slice(0, idx).flat();
}

/** Every relative import of one file: specifier, its path under src/ (null: outside src/) and line. */
export function importsOf(file: SourceFile): { specifier: string; target: string | null; line: number }[] {
  const info = ts.preProcessFile(file.text, true, true);
  const lineStarts = ts.computeLineStarts(file.text);
  const out: { specifier: string; target: string | null; line: number }[] = [];
  for (const ref of info.importedFiles) {
    const spec = ref.fileName;
    if (!spec.startsWith('./') && !spec.startsWith('../')) continue;
    const joined = posix.normalize(posix.join(posix.dirname(file.path), spec));
    const target = joined.startsWith('../') || joined === '..' ? null : joined.replace(/\.js$/, '.ts');
    out.push({ specifier: spec, target, line: ts.computeLineAndCharacterOfPosition(lineStarts, ref.pos).line + 1 });
  }
  return out;
}

/**
 * The imports of `files` that break the layer rule and are not in `exceptions`; with `usedExceptions`,
 * the exceptions that matched (so stale ones can be found).
 */
export function checkBoundaries(
  files: readonly SourceFile[],
  layers: readonly (readonly string[])[] = LAYERS,
  exceptions: readonly { from: string; to: string }[] = EXCEPTIONS,
  usedExceptions?: Set<string>,
): Violation[] {
  const layer = layerIndex(layers);
  const violations: Violation[] = [];
  for (const file of files) {
    const from = folderOf(file.path);
    const fromLayer = layer.get(from);
    if (fromLayer === undefined) {
      violations.push({ file: file.path, line: 1, specifier: '', from, to: from, why: `src/${from} is in no layer of the table (add it to LAYERS in test/boundaries.test.ts)` });
      continue;
    }
    for (const imp of importsOf(file)) {
      if (imp.target === null) {
        violations.push({ file: file.path, line: imp.line, specifier: imp.specifier, from, to: '(outside src/)', why: 'imports a file outside src/' });
        continue;
      }
      const to = folderOf(imp.target);
      if (to === from) continue;
      const toLayer = layer.get(to);
      let why: string | null = null;
      if (toLayer === undefined) why = `src/${to} is in no layer of the table`;
      else if (toLayer === fromLayer) why = `${from} and ${to} are in the same layer and must not import each other`;
      else if (toLayer > fromLayer) why = `${to} is in a higher layer; ${from} may import only: ${allowedTargets(from, layers).join(', ') || '(nothing)'}`;
      if (why === null) continue;
      const ex = exceptions.find((e) => e.from === file.path && e.to === imp.target);
      if (ex) {
        usedExceptions?.add(`${ex.from} -> ${ex.to}`);
        continue;
      }
      violations.push({ file: file.path, line: imp.line, specifier: imp.specifier, from, to, why });
    }
  }
  return violations;
}

/** One line per violation: `src/FILE:LINE: FROM -> TO ('SPEC'): WHY`. */
export function formatViolations(v: readonly Violation[]): string {
  return v.map((x) => `src/${x.file}:${x.line}: ${x.from} -> ${x.to}${x.specifier ? ` ('${x.specifier}')` : ''}: ${x.why}`).join('\n');
}

/** Every .ts file under src/, as SourceFiles. */
export function readSourceTree(root = join(repoRoot, 'src')): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.push({ path: relative(root, p).split(sep).join('/'), text: readFileSync(p, 'utf8') });
    }
  };
  walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

describe('import boundaries between src/ folders', () => {
  it('src/ has no import against the layer table (apart from the listed exceptions)', () => {
    const files = readSourceTree();
    expect(files.length).toBeGreaterThan(50);
    const used = new Set<string>();
    const v = checkBoundaries(files, LAYERS, EXCEPTIONS, used);
    if (v.length) {
      throw new Error(`${v.length} import(s) against the layers in test/boundaries.test.ts (a folder imports only lower layers):\n${formatViolations(v)}`);
    }
    const stale = EXCEPTIONS.map((e) => `${e.from} -> ${e.to}`).filter((k) => !used.has(k));
    expect(stale, 'exceptions that no longer match an import: remove them from EXCEPTIONS').toEqual([]);
  });

  it('every folder of src/ is in the table', () => {
    const folders = new Set(readSourceTree().map((f) => folderOf(f.path)));
    expect([...folders].filter((f) => !LAYERS.flat().includes(f))).toEqual([]);
  });

  it('fails on a wrong-way import, naming file:line and from -> to', () => {
    const files: SourceFile[] = [
      { path: 'util/fine.ts', text: "import { getKernels } from '../kernels/index.js';\n" },
      {
        path: 'ingest/bad.ts',
        text: [
          "import { readFileSync } from 'node:fs';",
          "import { x } from './lines.js';",
          '// import { no } from "../cli/main.js"  (a comment: not an import)',
          "const s = \"from '../cli/main.js'\"; // nor is a string",
          'import {',
          '  UsageError,',
          "} from '../cli/errors.js';",
          "export type { T } from '../serve/recommender.js';",
          "const m = await import('../report/report.js');",
          "import '../ingest/lines.js';",
        ].join('\n'),
      },
      { path: 'models/x.ts', text: "import { a } from '../train/trainer.js';\nimport { b } from '../data/dataset.js';\n" },
      { path: 'ingest/peer.ts', text: "import { w } from '../synth/world.js';\n" },
      { path: 'data/escape.ts', text: "import pkg from '../../package.json';\n" },
      { path: 'newfolder/a.ts', text: '' },
    ];
    const v = checkBoundaries(files);
    const lines = formatViolations(v).split('\n');
    expect(v.map((x) => `${x.file}:${x.line} ${x.from} -> ${x.to}`)).toEqual([
      'ingest/bad.ts:7 ingest -> cli',
      'ingest/bad.ts:8 ingest -> serve',
      'ingest/bad.ts:9 ingest -> report',
      'models/x.ts:1 models -> train',
      'ingest/peer.ts:1 ingest -> synth',
      'data/escape.ts:1 data -> (outside src/)',
      'newfolder/a.ts:1 newfolder -> newfolder',
    ]);
    expect(lines[0]).toMatch(/^src\/ingest\/bad\.ts:7: ingest -> cli \('\.\.\/cli\/errors\.js'\): cli is in a higher layer; ingest may import only: kernels, util, .*train$/);
    expect(lines[4]).toMatch(/same layer/);
    expect(lines[6]).toMatch(/in no layer/);
  });

  it('an exception admits exactly its own file -> file edge', () => {
    const files: SourceFile[] = [
      { path: 'config/load.ts', text: "import { r } from '../models/registry.js';\nimport { t } from '../models/types.js';\n" },
    ];
    const exceptions = [{ from: 'config/load.ts', to: 'models/registry.ts', why: 'example' }];
    const used = new Set<string>();
    const v = checkBoundaries(files, LAYERS, exceptions, used);
    expect(v.map((x) => `${x.file}:${x.line} -> ${x.specifier}`)).toEqual(['config/load.ts:2 -> ../models/types.js']);
    expect([...used]).toEqual(['config/load.ts -> models/registry.ts']);
  });

  it('config/ imports nothing of models/: no exception lets it', () => {
    expect(EXCEPTIONS.filter((e) => folderOf(e.from) === 'config')).toEqual([]);
  });

  it('src/serve/ imports no concrete model class (only models/**/types.ts and the registry)', () => {
    const v = serveModelImports(readSourceTree());
    if (v.length) throw new Error(formatViolations(v));
    const fake: SourceFile[] = [{
      path: 'serve/bad.ts',
      text: [
        "import type { ServableModel } from '../models/types.js';",
        "import type { Backbone } from '../models/backbones/types.js';",
        "import { IntentAlignment } from '../models/alignment/irllrec.js';",
        "import type { ComposedModel } from '../models/composed.js';",
        "import { createModel } from '../models/registry.js';",
      ].join('\n'),
    }];
    expect(serveModelImports(fake).map((x) => `${x.line} ${x.specifier}`)).toEqual(['3 ../models/alignment/irllrec.js', '4 ../models/composed.js']);
  });
});
