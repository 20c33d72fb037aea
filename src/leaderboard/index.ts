/**
 * The leaderboard room: entries, rules, ranking, submission limits, stores (SQLite; in-memory), sealed
 * private scores, and renderers (Markdown, JSON, HTML).
 */
export {
  EntryError,
  LeaderboardEntrySchema,
  MODELS_DIGEST_PATTERN,
  MODELS_DIGEST_RULE,
  isScored,
  validateEntry,
  type LeaderboardEntry,
} from "./entry.js";
export {
  RulesError,
  RulesSchema,
  parseRules,
  type LeaderboardRules,
  type LeaderboardRulesInput,
} from "./rules.js";
export {
  RankingError,
  formatScore,
  roundScore,
  rankEntries,
  type RankOptions,
  type RankedRow,
  type RankingMode,
  type Standings,
} from "./ranking.js";
export {
  checkQuota,
  countedStatuses,
  countedStatusesSql,
  countsTowardLimits,
  nextUtcMidnight,
  startOfUtcDay,
  type QuotaStatus,
} from "./quota.js";
export {
  compareBySubmission,
  entryForStorage,
  MemoryLeaderboardStore,
  StoreError,
  type EntryFilter,
  type LeaderboardStore,
} from "./store.js";
export {
  boardId,
  SCHEMA_VERSION,
  SqliteLeaderboardStore,
  UNKNOWN_BOARD,
  type BoardKey,
  type OtherBoard,
  type SqliteStoreOptions,
} from "./sqlite-store.js";
export {
  RevealError,
  SealError,
  generateSealingKeys,
  openSealedScore,
  reveal,
  revealEntries,
  sealScore,
  type SealingKeys,
} from "./seal.js";
export { RenderError, type RenderOptions } from "./render-common.js";
export { escapeHtml, escapeMarkdown } from "./escape.js";
export { renderMarkdown } from "./render-markdown.js";
export {
  LEADERBOARD_JSON_FORMAT,
  leaderboardJson,
  renderJson,
  type LeaderboardJson,
  type LeaderboardJsonRow,
} from "./render-json.js";
export { renderHtml } from "./render-html.js";
export { RENDER_FORMATS, renderStandings, type RenderFormat } from "./render.js";
