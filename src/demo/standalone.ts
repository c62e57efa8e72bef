/** What the demo's local stand-in servers share when run as standalone processes. */
import { realpathSync } from 'node:fs';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';

/** Every value of a repeatable `--name value` flag. */
export function argValues(argv: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) if (argv[i] === name && argv[i + 1] !== undefined) out.push(argv[i + 1] as string);
  return out;
}

export function argValue(argv: readonly string[], name: string): string | undefined {
  return argValues(argv, name)[0];
}

/** Prints one JSON line announcing the server, then serves until SIGINT/SIGTERM and closes it. */
export async function serveUntilSignal(server: { close(): Promise<void> }, announce: Record<string, unknown>): Promise<void> {
  process.stdout.write(`${JSON.stringify({ ...announce, pid: process.pid })}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server.close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Runs `main` when the module at `moduleUrl` is the process's entry point. */
export function runIfMain(moduleUrl: string, name: string, main: (argv: readonly string[]) => Promise<void>): void {
  const arg = process.argv[1];
  if (!arg) return;
  try {
    if (realpathSync(arg) !== realpathSync(fileURLToPath(moduleUrl))) return;
  } catch {
    return;
  }
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}

/** Listens on `host:port` (default 127.0.0.1, a free port) and returns the base URL. */
export async function listenHttp(server: Server, port: number | undefined, host: string | undefined, name: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? 0, host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error(`${name}: no TCP address`);
  return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
}

/** Closes a stand-in's server, dropping its kept-alive connections first. */
export function closeHttp(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
