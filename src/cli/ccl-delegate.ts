#!/usr/bin/env node
/**
 * `ccl-delegate`: the bin alias existing scripts call; the same as `claude-failover delegate …`
 * (src/cli/commands/delegate.ts). `ccl-delegate submit --file task.md` etc.
 */
import { errorCode, errorMessage, UsageError } from '../core/errors.js';
import { delegateCommand } from './commands/delegate.js';
import { exitAfterFlush, processIO, type CliIO } from './io.js';

export async function cclDelegateMain(argv: string[], io: CliIO): Promise<number> {
  try {
    // Existing scripts call ccl-delegate with the Go system's variable names: read them too.
    return await delegateCommand(argv, io, { legacyEnv: true });
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`ccl-delegate: ${err.message}\nRun \`ccl-delegate --help\` for usage.\n`);
      return 1;
    }
    const code = errorCode(err);
    io.stderr.write(`ccl-delegate: ${code ? `${code}: ` : ''}${errorMessage(err)}\n`);
    return 1;
  }
}

const invoked = process.argv[1] ?? '';
if (/(?:^|[\\/])ccl-delegate(?:\.js|\.ts)?$/.test(invoked)) {
  cclDelegateMain(process.argv.slice(2), processIO()).then(
    (code) => exitAfterFlush(code),
    (err: unknown) => {
      process.stderr.write(`ccl-delegate: ${errorMessage(err)}\n`);
      exitAfterFlush(1);
    },
  );
}
