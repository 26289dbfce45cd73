/**
 * Public serving API: the Recommender, its HTTP service and exports, with the run-directory API it
 * stands on (opening, verifying and re-evaluating runs, from src/run/). The report is exported by
 * src/index.ts: it sits above serving (src/report/ uses the Recommender for its examples).
 */
export {
  Recommender, RecommendQuery, checkK,
  type Id, type RecommendOptions, type ScoredItem, type UserRecommendations, type SimilarOptions, type ItemNeighbours,
  type IntentShare, type Explanation, type ColdStartInput, type ColdStartOptions, type ColdStartResult,
  type RecommenderInfo, type RecommenderOpenOptions, type RecommenderParts, type ScorePair, type PairScore,
} from './recommender.js';
export { RecommenderError, NotFoundError, InvalidArgumentError, UnavailableError, RunError } from './errors.js';
export { IdMap, loadIdMaps, pickIdMap, type IdSource } from '../run/ids.js';
export { computeIntents, type IntentModel } from './intents.js';
export { openRun, readRunInfo, type LoadedRun, type RunInfo, type RunHistory, type RunMeta, type OpenRunOptions } from '../run/open.js';
export { RUN_FILES, RUN_DATA_FILES, runDataDir, type RunDataManifest } from '../run/layout.js';
export { writeRunData, readRunData, loadRunDataset, type RunData, type RunDataSource } from '../run/snapshot.js';
export { evaluateRun, reportMetrics, type EvaluateRunOptions, type RunEvaluation, type EvalSplit } from '../run/evaluate.js';
export {
  localFoldInEmbedder, openAiEmbedder, openAiConfigFromManifest, readEmbedManifest, fitFoldIn,
  type TextEmbedder, type TextKind, type EmbedManifest, type LocalFoldInEmbedder,
} from './embedder.js';
export { createHandler, serveRecommender, type ServeOptions, type RecommenderService } from './http.js';
export { exportRun, loadLanceDb, EXPORT_FORMATS, type ExportFormat, type ExportSummary } from './export.js';
