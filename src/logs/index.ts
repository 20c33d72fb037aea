/** The logs room: what a participant is shown of their program's log, in every place it is shown. */
export { visibleLines, visibleLog, type LogShowing, type LogVisibility } from "./visibility.js";
