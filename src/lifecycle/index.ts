/** The competition's lifecycle: dates, phases, the final selection, the cap on runs under way. */
export {
  finalEntries,
  finalSelectionSchema,
  phaseAt,
  resolveLifecycle,
  selectFinal,
  timelineSchema,
  uploadWindow,
  type Lifecycle,
  type LifecyclePhase,
  type PhaseName,
  type SelectableEntry,
  type UploadWindow,
} from "./lifecycle.js";
