// Preloaded (node --import) into benchmarked node processes: reports the peak RSS on exit, from
// /proc/self/status VmHWM (getrusage's maxRSS would also count memory shared with the parent at fork).
import { readFileSync } from "node:fs";

process.on("exit", () => {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  process.stderr.write(`PEAK_RSS_KB=${kb ?? process.resourceUsage().maxRSS}\n`);
});
