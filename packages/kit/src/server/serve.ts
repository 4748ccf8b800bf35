import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { ConnectionTracker } from './connections.js';
import { guard, type Handler } from './guard.js';
import { sendRefusal, type Limits } from './limits.js';
import { LongLivedResponses } from './long-lived.js';
import { onShutdownRequest, tellPm2Ready } from './shutdown-request.js';

export interface ServeOptions {
  handler: Handler;
  host: string;
  port: number;
  /** Idle keep-alive sockets are closed after this, as usual. */
  keepAliveTimeoutMs: number;
  /** From the shutdown request to the end of the drain, at most; cleanup then gets what is left of it, and at least a second. Keep PM2's kill_timeout above both. */
  drainTimeoutMs: number;
  /** While draining, a socket idle this long is closed. */
  idleGraceMs?: number;
  /** A request whose headers are not complete after this is answered 408 and its connection closed (Node's headersTimeout). */
  headersTimeoutMs?: number;
  /** A request not received whole after this is cut (Node's requestTimeout: receiving only; responses and streams are not limited). */
  requestTimeoutMs?: number;
  /** Caps on connections (enforced here) and streams (counted by the app's pipeline). */
  limits?: Limits;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** Sees every request first, refused ones included (the metrics count them when their response closes). */
  observe?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** The registry the app's event streams join (made here when not given). */
  streams?: LongLivedResponses;
  /** Runs once connections are closed (or the deadline passed): release stores, files, timers. */
  onClose?: () => Promise<void> | void;
  log?: (line: string) => void;
  /** How the process ends; tests replace it. */
  exit?: (code: number) => void;
}

export interface RunningServer {
  readonly port: number;
  /** Event streams and other responses that the drain must end rather than await. */
  readonly streams: LongLivedResponses;
  /** Drains, runs onClose, then exits with `exitCode` (0 unless a fault ends the worker). Safe to call more than once: the first call decides. */
  shutdown(reason: string, exitCode?: number): Promise<void>;
}

/**
 * Listens, tells PM2 it is ready, and on SIGINT/SIGTERM/`shutdown` drains:
 * stop accepting (the cluster primary sends new connections to the other
 * workers), end event streams with a reconnect hint, answer each kept-alive
 * socket's next request with `Connection: close`, and exit when every socket
 * has closed or the drain deadline has passed.
 */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => void writeLine(line));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const idleGraceMs = options.idleGraceMs ?? Math.min(1000, Math.floor(options.drainTimeoutMs / 2));

  const headersTimeout = options.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(options.requestTimeoutMs ?? 30_000, headersTimeout);
  const serverOptions: http.ServerOptions = {
    headersTimeout,
    requestTimeout,
    // Node checks those timeouts only this often (30 s by default): a header timeout of 10 s would otherwise be up to 40 s.
    connectionsCheckingInterval: Math.max(250, Math.min(1000, Math.floor(headersTimeout / 4))),
    keepAliveTimeout: options.keepAliveTimeoutMs,
  };
  const server: http.Server = options.tls ? https.createServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }) : http.createServer(serverOptions);
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  const connections = new ConnectionTracker(server, { idleGraceMs, secure: Boolean(options.tls) });
  const streams = options.streams ?? new LongLivedResponses();
  const app = guard(options.handler, log);
  const overCap = capConnections(server, options.limits);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    options.observe?.(req, res);
    // Over the cap the connection still gets an answer, never silence: 503, and the client closes it.
    if (options.limits && overCap.has(socketKey(req.socket))) return sendRefusal(res, options.limits.refuseConnection(), true);
    app(req, res);
  });

  await listen(server, options.host, options.port);
  const port = (server.address() as net.AddressInfo).port;

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string, exitCode = 0) => (stopping ??= drainAndExit(reason, exitCode));

  async function drainAndExit(reason: string, exitCode: number): Promise<void> {
    const started = Date.now();
    log(`${reason}: draining ${connections.size} connection(s), ${streams.size} stream(s)`);
    // net.Server#close stops accepting only; http.Server#close would also close idle keep-alive sockets under their clients.
    net.Server.prototype.close.call(server);
    const drained = connections.drain();
    streams.endAll();
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => {
        deadline = setTimeout(() => resolve(true), options.drainTimeoutMs);
      }),
    ]);
    clearTimeout(deadline);
    if (timedOut) {
      log(`drain deadline of ${options.drainTimeoutMs} ms reached: closing ${connections.size} connection(s)`);
      connections.destroyAll();
    }
    // Cleanup (closing a Redis connection, say) gets what is left of the deadline, and at least a second.
    const cleanupMs = Math.max(1000, options.drainTimeoutMs - (Date.now() - started));
    let cleanupTimer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve(options.onClose?.()),
        new Promise((_, reject) => {
          cleanupTimer = setTimeout(() => reject(new Error(`not done after ${cleanupMs} ms`)), cleanupMs);
        }),
      ]);
    } catch (error) {
      log(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      clearTimeout(cleanupTimer);
    }
    const farewell = `drained in ${Date.now() - started} ms; exiting`;
    // Under PM2 stdout is written asynchronously (to the log file and over IPC): let the last line out first.
    if (options.log) options.log(farewell);
    else await writeLine(farewell);
    exit(exitCode);
  }

  const stopListening = onShutdownRequest(
    (reason) => void shutdown(reason),
    (reason) => {
      log(`${reason} again: exiting now`);
      exit(1);
    },
  );
  server.once('close', stopListening);

  tellPm2Ready();
  return { port, streams, shutdown };
}

/**
 * Counts the server's TCP connections against the cap and returns the
 * connections accepted over it, by address and port (the key a TLS socket
 * on top of one shares with it).
 */
function capConnections(server: net.Server, limits: Limits | undefined): Set<string> {
  const over = new Set<string>();
  if (!limits) return over;
  server.on('connection', (socket: net.Socket) => {
    const key = socketKey(socket);
    if (limits.openConnection()) over.add(key);
    socket.on('close', () => {
      limits.closeConnection();
      over.delete(key);
    });
  });
  return over;
}

function socketKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/** Writes a line and waits until it is out, or 200 ms at most (a stdout whose writer never calls back must not hold the exit). */
function writeLine(line: string): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 200);
    process.stdout.write(`${line}\n`, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function listen(server: net.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
