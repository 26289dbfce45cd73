/**
 * irllrec: LLM-enhanced, intent-aware graph recommendation.
 *
 * The library surface: data loading, configuration, models (backbone x alignment), training with
 * the official protocol, evaluation, the serving API (Recommender, HTTP service, exports) and the
 * HTML report. The numeric kernels are exposed for advanced use.
 */
export { loadDataset, assemble, type Dataset, type Interactions } from './data/dataset.js';
export { loadTextVectors, openTextRows, TEXT_FILES } from './data/text-vectors.js';
export { openNpyRows, readNpyHeader, writeNpy } from './data/formats/numpy.js';
export { DataError } from './data/errors.js';
export { resolveConfig, type ResolveOptions, type ResolvedConfig } from './config/load.js';
export { defaultConfig, chooseDefaults, autoTraining, recogniseDataset, PAPER_DATASETS, type DatasetSection, type DataStats, type DefaultsChoice } from './config/defaults.js';
export { ConfigError, type Config, type ModelSection, ALIGNMENTS, type AlignName } from './config/schema.js';
export { createModel, parseModelName, officialName, supportedModels, requiredText, BACKBONES, registerBackbone, registerAlignment } from './models/registry.js';
export { defineBackbone, defineAlignment, type BackboneDescriptor, type AlignmentDescriptor } from './models/descriptor.js';
export type { RecModel, LossResult, ScoringEmbeddings } from './models/types.js';
export type { TextVectors } from './data/text-types.js';
export { train, evaluateSplit, type TrainOptions, type TrainResult, type EpochLog, type EvalLog } from './train/trainer.js';
export { evaluateFullRanking, flattenMetrics, meanCi, pairedTest, activityBuckets } from './eval/index.js';
export { runCompare, type CompareOptions, type CompareReport } from './tune/compare.js';
export { ABLATIONS } from './tune/ablations.js';
export { getKernels, setKernels, jsKernels, type Kernels } from './kernels/index.js';
export { Rng } from './util/rng.js';
export * from './serve/index.js';
export { renderReport, writeReport, type ReportOptions } from './report/report.js';
