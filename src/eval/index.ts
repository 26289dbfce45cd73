/** Evaluation: official full-ranking protocol and metrics (see ./ranking.ts, ./metrics.ts). */
export {
  type MetricName,
  type UserMetricValues,
  type MetricResult,
  METRIC_NAMES,
  DEFAULT_METRICS,
  checkKs,
  checkMetrics,
  rankDiscounts,
  UserMetricComputer,
  userMetrics,
  MetricAccumulator,
  flattenMetrics,
  formatMetrics,
} from './metrics.js';
export {
  type CsrPattern,
  type ScoreBlockFn,
  type ScoringOptions,
  type FullRankingOptions,
  type FullRankingResult,
  type TopKOptions,
  MASK_SCORE,
  DEFAULT_EVAL_BATCH,
  evaluatedUsers,
  topKForUsers,
  evaluateFullRanking,
} from './ranking.js';
