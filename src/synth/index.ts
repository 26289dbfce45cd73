/** Planted-intent synthetic worlds (see docs/synthetic.md). */
export {
  buildWorld, writeWorld, synthesize, checkWorldParams, readWorldTruth, worldOutputProblem,
  WORLD_DEFAULTS, WORLD_FILES, TRUTH_TSV_ENTITIES, WorldParamError,
  type World, type WorldCounts, type WorldParams, type WorldTruth, type SynthManifest, type TextDtype,
  type WriteWorldOptions, type WriteWorldResult,
} from './world.js';
