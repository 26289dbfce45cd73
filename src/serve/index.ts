/** Public serving API: the Recommender, its HTTP service, exports and the report. */
export {
  Recommender, RecommendQuery, checkK,
  type Id, type RecommendOptions, type ScoredItem, type UserRecommendations, type SimilarOptions, type ItemNeighbours,
  type IntentShare, type Explanation, type ColdStartInput, type ColdStartOptions, type ColdStartResult,
  type RecommenderInfo, type RecommenderOpenOptions, type RecommenderParts, type ScorePair, type PairScore,
} from './recommender.js';
export { RecommenderError, NotFoundError, InvalidArgumentError, UnavailableError, RunError } from './errors.js';
export { IdMap, loadIdMaps, pickIdMap, type IdSource } from './ids.js';
export { computeIntents, type IntentModel } from './intents.js';
export { openRun, readRunInfo, type LoadedRun, type RunInfo, type RunHistory, type RunMeta, type OpenRunOptions } from './run.js';
export { RUN_FILES, RUN_DATA_FILES, runDataDir, type RunDataManifest } from '../run/layout.js';
export { writeRunData, readRunData, loadRunDataset, type RunData, type RunDataSource } from '../run/snapshot.js';
export { evaluateRun, reportMetrics, type EvaluateRunOptions, type RunEvaluation, type EvalSplit } from '../run/evaluate.js';
export {
  localFoldInEmbedder, openAiEmbedder, openAiConfigFromManifest, readEmbedManifest, fitFoldIn,
  type TextEmbedder, type TextKind, type EmbedManifest, type LocalFoldInEmbedder,
} from './embedder.js';
export { createHandler, serveRecommender, type ServeOptions, type RecommenderService } from './http.js';
export { exportRun, loadLanceDb, EXPORT_FORMATS, type ExportFormat, type ExportSummary } from './export.js';
export { renderReport, writeReport, type ReportOptions } from '../report/report.js';
