/** The id maps live with the run directory they are read from: src/run/ids.ts (kept here for serving's own imports). */
export * from '../run/ids.js';
