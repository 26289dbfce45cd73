/**
 * The serving API's data types (what the Recommender takes and returns); src/serve/index.ts
 * exports them with the Recommender.
 */
import type { CsrPattern } from '../data/csr.js';
import type { TrainingText } from '../data/text-rows.js';
import type { Kernels } from '../kernels/types.js';
import type { MLP } from '../nn/mlp.js';
import type { OpenRunOptions } from '../run/open.js';
import type { IdMap } from '../run/ids.js';
import type { ProfileRecord } from '../text/profile-files.js';
import type { TextEmbedder } from './embedder.js';
import type { IntentModel } from './intents.js';

export type Id = string | number;

export interface RecommendOptions {
  /** How many items per user (default 10); at most the number of items. */
  k?: number;
  /**
   * Leave out items the user has interacted with: true / 'train' (default) masks the training
   * interactions, 'all' also the dataset's validation and test interactions, false none.
   */
  excludeSeen?: boolean | 'train' | 'all';
  /** Items never to recommend. */
  exclude?: Id[];
  /** Rank only these items. */
  candidates?: Id[];
}

export interface ScoredItem {
  item: string;
  score: number;
  title?: string;
}

export interface UserRecommendations {
  user: string;
  items: ScoredItem[];
}

export interface SimilarOptions {
  k?: number;
  exclude?: Id[];
  candidates?: Id[];
}

/** A (user, item) pair to score: `[user, item]` or `{user, item}`. */
export type ScorePair = readonly [Id, Id] | { user: Id; item: Id };

export interface PairScore {
  user: string;
  item: string;
  /** The model's score, exactly the one `recommend` gives this item for this user. */
  score: number;
}

export interface ItemNeighbours {
  item: string;
  title?: string;
  /** Most similar items by cosine of the final embeddings, the item itself left out. */
  similar: ScoredItem[];
}

export interface IntentShare {
  /** "U12" for user intent 12, "I7" for item intent 7. */
  intent: string;
  index: number;
  weight: number;
  /** weight x K: how many times the uniform weight 1/K the entity puts on this intent. */
  lift: number;
  /** a_k: the intent's coefficient when the entity's embedding is written as a non-negative mixture of its side's prototypes. */
  mix: number;
  /** a_k (c_k . x), x the other side's embedding: this intent's part of the score (all of a side's contributions plus its residual = score). */
  contribution: number;
  /** contribution / score. */
  share: number;
  /** What the prototype stands for: items it favours and, with text, its characteristic terms. */
  label: { items: ScoredItem[]; terms: string[] };
  /** The entity's own text-intent phrases that match this prototype (when text exists). */
  text?: string[];
}

export interface Explanation {
  user: string;
  item: string;
  title?: string;
  score: number;
  /** 1-based rank of the item in the user's full ranking (training items masked). */
  rank: number;
  /** The item is one of the user's training interactions. */
  seen: boolean;
  intents: null | {
    source: string;
    K: number;
    /** cos(ê_u, ê_i): IRLLRec's edge weight for the pair is (1 + agreement) / 2. */
    agreement: number;
    user: IntentShare[];
    item: IntentShare[];
    /**
     * User side: the sum of every user intent's contribution, the score minus it (what the mixture
     * of intents does not capture, r_u . e_i), and fit = 1 - |r_u|^2 / |e_u|^2.
     */
    explained: number;
    residual: number;
    fit: number;
    /** The same split of the score over the item's intents. */
    itemExplained: number;
    itemResidual: number;
    itemFit: number;
  };
  /** The LLM (or offline) profile and intent statements, when the dataset has them. */
  text: null | {
    user: { profile: string; intent: string; liked: string[]; disliked: string[] };
    item: { profile: string; intent: string; attracts: string[]; doesNotSuit: string[] };
  };
  /** The user's training items most similar to this one (cosine). */
  because: ScoredItem[];
}

export interface ColdStartInput {
  /** Raw text: one string (used as both profile and intent text), or each separately. */
  text?: string | { profile?: string; intent?: string };
  /** Text vectors already embedded with the dataset's embedder. */
  vectors?: { profile?: ArrayLike<number>; intent?: ArrayLike<number> };
  /** Items the new user is known to like (folded in by their embeddings). */
  items?: Id[];
}

export interface ColdStartOptions {
  k?: number;
  exclude?: Id[];
  candidates?: Id[];
  /**
   * 'neighbors' (default): the 50 warm users closest to the text in the text tower's output space,
   * their embeddings averaged (softmax of similarity / 0.1); 'tower': the tower's output itself is
   * the user vector (items scored by dot product). On MovieLens latest-small with offline text,
   * 'neighbors' beats popularity and 'tower' does not (bench/coldstart-movielens.mjs).
   */
  strategy?: 'tower' | 'neighbors';
  /** Leave the given `items` out of the result (default true). */
  excludeGiven?: boolean;
  signal?: AbortSignal;
}

export interface ColdStartResult {
  items: ScoredItem[];
  /** Which signals made the user vector: 'profile', 'intent', 'items'. */
  used: string[];
  strategy: 'tower' | 'neighbors' | 'items';
  embedder?: string;
}

export interface RecommenderInfo {
  model: string;
  backbone: string;
  align: string;
  dataset: string;
  users: number;
  items: number;
  dim: number;
  ids: { users: string; items: string };
  intents: number | null;
  textTower: string[];
  coldStartText: boolean;
  embedder: string | null;
  kernels: string;
  run: string | null;
}

export interface RecommenderOpenOptions extends OpenRunOptions {
  kernels?: Kernels;
  /** Embedder for cold start from raw text; default: the dataset's (embed.json); null: none. */
  embedder?: TextEmbedder | null;
  /** Users per scoring block in batched calls (default 256). */
  blockSize?: number;
  /** Where notes on opening go (e.g. that cold start from raw text is approximate for an older dataset); default: nowhere. */
  log?: (line: string) => void;
}

/** The model's text towers (and the text vectors they were trained on), for cold start from text. */
export interface Towers {
  profile?: MLP;
  intent?: MLP;
  /** RLMRec-Gen's reconstruction MLP (embedding -> profile space). */
  recon?: MLP;
  /**
   * The users' text vectors the towers were trained on (float32 tensors, or float16 rows decoded on
   * demand); the items' tables are not needed for serving and may be absent.
   */
  text: TrainingText;
}

/** Everything a Recommender needs; `Recommender.open` builds it from a run directory. */
export interface RecommenderParts {
  model: string;
  backbone?: string;
  align?: string;
  dataset?: string;
  numUsers: number;
  numItems: number;
  dim: number;
  userEmb: Float32Array;
  itemEmb: Float32Array;
  users?: IdMap;
  items?: IdMap;
  /** Training interactions (users x items). */
  seen?: CsrPattern;
  /** Validation and test interactions (for excludeSeen: 'all'). */
  heldOut?: CsrPattern[];
  intents?: IntentModel | null;
  towers?: Towers | null;
  profiles?: { users: ProfileRecord[]; items: ProfileRecord[] } | null;
  embedder?: TextEmbedder | null;
  kernels?: Kernels;
  blockSize?: number;
  runDir?: string;
}
