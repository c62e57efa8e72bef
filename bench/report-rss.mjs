// Preloaded with --import into a measured process: prints its peak RSS (KiB) to fd 2 at exit.
import { writeSync } from 'node:fs';
process.on('exit', () => {
  writeSync(2, `\n__BENCH_MAXRSS_KB=${process.resourceUsage().maxRSS}\n`);
});
