/** Opening a run directory lives in the run layer: src/run/open.ts (kept here for serving's own imports). */
export * from '../run/open.js';
