/**
 * Loader for the C++ SIMD addon (build/Release/irllrec_kernels.node). The addon's functions
 * have exactly the Kernels signatures (it validates every argument itself), so the wrapper is a
 * thin pass-through.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Kernels } from './types.js';

/** Raw addon surface: the Kernels methods plus a few controls. */
interface Addon extends Omit<Kernels, 'name' | 'info'> {
  /** Active ISA path: 'avx512' | 'avx2' | 'scalar'. */
  isa(): string;
  /** Force an ISA path (clamped to what the CPU supports); returns the path now active. */
  setIsa(isa: string): string;
  /** Worker thread count (including the calling thread). */
  threads(): number;
  /** Resize the thread pool (n >= 1); returns the new count. */
  setThreads(n: number): number;
}

/** The native backend: the Kernels interface plus run-time controls (tests, benchmarks). */
export interface NativeKernels extends Kernels {
  readonly name: 'native';
  /** Active ISA path. */
  isa(): string;
  /** Force an ISA path ('avx512' | 'avx2' | 'scalar'); returns the path now active. */
  setIsa(isa: string): string;
  threads(): number;
  setThreads(n: number): number;
}

let cached: NativeKernels | null | undefined;
let loadError: string | null = null;

/** Package root: two levels above this file (src/kernels/ under vitest, dist/kernels/ compiled). */
function packageRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** Path of the compiled addon. */
export function nativeAddonPath(): string {
  return path.join(packageRoot(), 'build', 'Release', 'irllrec_kernels.node');
}

/** Why the last loadNativeKernels() returned null (null if it did not). */
export function nativeLoadError(): string | null {
  return loadError;
}

/** Load the addon once; null (see nativeLoadError()) if it is absent or fails to load. */
export function loadNativeKernels(): NativeKernels | null {
  if (cached !== undefined) return cached;
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    loadError = `${file} not found; build it with npm run build`;
    cached = null;
    return null;
  }
  let a: Addon;
  try {
    const require = createRequire(import.meta.url);
    a = require(file) as Addon;
  } catch (e) {
    loadError = `failed to load ${file}: ${(e as Error).message.split('\n')[0]}`;
    cached = null;
    return null;
  }
  cached = {
    name: 'native',
    get info() {
      return `native ${a.isa()} threads=${a.threads()}`;
    },
    isa: a.isa,
    setIsa: a.setIsa,
    threads: a.threads,
    setThreads: a.setThreads,
    gemm: a.gemm,
    spmm: a.spmm,
    spmmT: a.spmmT,
    softmaxRows: a.softmaxRows,
    softmaxRowsBackward: a.softmaxRowsBackward,
    logSumExpRows: a.logSumExpRows,
    l2NormalizeRows: a.l2NormalizeRows,
    gatherRows: a.gatherRows,
    scatterAddRows: a.scatterAddRows,
    rowDot: a.rowDot,
    axpy: a.axpy,
    axpby: a.axpby,
    mul: a.mul,
    sum: a.sum,
    sumSquares: a.sumSquares,
    dot: a.dot,
    adam: a.adam,
    leakyRelu: a.leakyRelu,
    leakyReluBackward: a.leakyReluBackward,
    topkRows: a.topkRows,
    keepMaskXoshiro: a.keepMaskXoshiro,
    compactDroppedEdges: a.compactDroppedEdges,
    rowAxpby: a.rowAxpby,
    sddmm: a.sddmm,
    bprForward: a.bprForward,
    bprBackward: a.bprBackward,
  };
  return cached;
}
