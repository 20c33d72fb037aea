// Preloaded (node --import) into benchmarked node processes: reports the kernel's peak RSS on exit.
process.on("exit", () => process.stderr.write(`PEAK_RSS_KB=${process.resourceUsage().maxRSS}\n`));
