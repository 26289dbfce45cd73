/**
 * Kernel backend selection. `getKernels()` returns a process-wide singleton: the native C++
 * addon when it loads, else the TypeScript reference kernels (with one warning on stderr).
 * IRLLREC_KERNELS=js forces the TypeScript kernels (no warning).
 */
import type { Kernels } from './types.js';
import { jsKernels } from './js.js';
import { loadNativeKernels, nativeLoadError } from './native.js';

export type { Kernels } from './types.js';
export { jsKernels } from './js.js';
export { loadNativeKernels, nativeLoadError, nativeAddonPath, type NativeKernels } from './native.js';

let current: Kernels | null = null;

export function getKernels(): Kernels {
  if (current) return current;
  if (process.env.IRLLREC_KERNELS === 'js') {
    current = jsKernels;
    return current;
  }
  const native = loadNativeKernels();
  if (native) {
    current = native;
  } else {
    process.stderr.write(
      `irllrec: native kernels unavailable (${nativeLoadError() ?? 'unknown reason'}); ` +
        'using the TypeScript kernels, which are much slower\n',
    );
    current = jsKernels;
  }
  return current;
}

/** Replace the singleton (tests); pass null to re-run the selection on the next getKernels(). */
export function setKernels(k: Kernels | null): void {
  current = k;
}
