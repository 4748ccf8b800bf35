import { answerStoreFailure, type RunningServer } from '../server/index.js';

/**
 * Ends the worker on an uncaught exception or an unhandled rejection the way
 * a reload does: drain (in-flight requests finish, kept-alive sockets are
 * told `Connection: close`), then exit non-zero so that PM2 starts a fresh
 * worker. The process may be in a bad state, so it is not kept serving; but
 * dying at once, as Node does by default, drops every request in flight.
 *
 * PM2's own listener (in its ProcessContainer) logs the error and reports it
 * on its bus, and exits only when no other listener exists: with this one it
 * leaves the exit to the drain.
 */
export function drainOnFatalErrors(server: () => RunningServer | undefined, log: (line: string) => void = (line) => console.error(line)): void {
  let ending = false;
  const onFatal = (kind: string) => (error: unknown) => {
    log(`${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    // A second fault while draining changes nothing: the drain deadline still ends the process.
    if (ending) return;
    ending = true;
    const running = server();
    // Before the server listens there is nothing to drain.
    if (!running) process.exit(1);
    void running.shutdown(`${kind}`, 1);
  };
  process.on('uncaughtException', onFatal('unhandled exception'));
  const rejection = onFatal('unhandled rejection');
  // A session that could not be saved (a full disk) rejects outside any handler: its request gets a 503, the worker goes on.
  process.on('unhandledRejection', (reason) => {
    if (!answerStoreFailure(reason)) rejection(reason);
  });
}
