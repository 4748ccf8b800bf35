/**
 * Calls `onRequest` once, on the first way a process can be asked to stop:
 * SIGINT (PM2's default kill signal, and Ctrl-C), SIGTERM (systemd, docker),
 * or PM2's `shutdown` message (sent instead of a signal with
 * shutdown_with_message). A second signal after a first one means "now"
 * (Ctrl-C twice): `onForce` runs. A signal after the message does not: PM2
 * follows its `shutdown` message with SIGINT on some paths, and the drain
 * goes on.
 */
export function onShutdownRequest(onRequest: (reason: string) => void, onForce: (reason: string) => void): () => void {
  let first: string | undefined;
  const request = (reason: string) => {
    if (first === undefined) {
      first = reason;
      return onRequest(reason);
    }
    if (first !== 'shutdown message' && reason !== 'shutdown message') onForce(reason);
  };
  const onSigint = () => request('SIGINT');
  const onSigterm = () => request('SIGTERM');
  const onMessage = (message: unknown) => {
    if (message === 'shutdown') request('shutdown message');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('message', onMessage);
  return () => {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    process.off('message', onMessage);
  };
}

/**
 * Tells PM2 this worker serves requests. With `wait_ready`, PM2 waits for
 * exactly the string 'ready' before it retires the worker this one replaces.
 * Does nothing when the process was not started by PM2 (or any IPC parent).
 */
export function tellPm2Ready(): boolean {
  if (!process.send || !process.connected) return false;
  process.send('ready');
  return true;
}
