import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { detachedSocket } from './detach.js';

interface SocketState {
  responses: Set<ServerResponse>;
  /** The socket carries an event stream detached from its response (server/detach.ts): busy until it closes. */
  streaming?: boolean;
  idleTimer?: NodeJS.Timeout;
}

/**
 * Knows every socket of a server and the responses in flight on it, so that a
 * shutdown can drain them without racing the client.
 *
 * Closing an idle keep-alive socket races a client that is sending its next
 * request on it (ECONNRESET). While draining, the tracker instead answers the
 * next request on each socket with `Connection: close`, so the client closes
 * it, and destroys only sockets that stay idle for a grace period.
 */
export class ConnectionTracker {
  readonly #sockets = new Map<Socket, SocketState>();
  readonly #idleGraceMs: number;
  #draining = false;
  #onEmpty: (() => void) | undefined;

  /** `secure`: track the TLS sockets (those requests arrive on), not the TCP ones under them. */
  constructor(server: Server, options: { idleGraceMs: number; secure?: boolean }) {
    this.#idleGraceMs = options.idleGraceMs;
    server.on(options.secure ? 'secureConnection' : 'connection', (socket: Socket) => this.#track(socket));
    // Before the app's own listener, so the app never writes a keep-alive response while draining.
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
  }

  /** Open sockets, idle or busy. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Starts draining; resolves once every socket has closed. */
  drain(): Promise<void> {
    this.#draining = true;
    for (const [socket, state] of this.#sockets) {
      for (const res of state.responses) if (!res.headersSent) res.setHeader('Connection', 'close');
      if (state.responses.size === 0 && !state.streaming) this.#armIdleTimer(socket, state);
    }
    if (this.#sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#onEmpty = resolve;
    });
  }

  /** The drain deadline: closes whatever is still open. */
  destroyAll(): void {
    for (const socket of this.#sockets.keys()) socket.destroy();
  }

  #track(socket: Socket): void {
    const state: SocketState = { responses: new Set() };
    this.#sockets.set(socket, state);
    socket.on('close', () => {
      clearTimeout(state.idleTimer);
      this.#sockets.delete(socket);
      if (this.#draining && this.#sockets.size === 0) this.#onEmpty?.();
    });
    // Accepted just before the listener closed: give the client its grace period too.
    if (this.#draining) this.#armIdleTimer(socket, state);
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const state = this.#sockets.get(socket);
    if (!state) return;
    clearTimeout(state.idleTimer);
    state.responses.add(res);
    if (this.#draining) res.setHeader('Connection', 'close');
    res.on('close', () => {
      state.responses.delete(res);
      // Its stream goes on on the socket, and is ended by the drain like any other (LongLivedResponses).
      if (detachedSocket(res)) state.streaming = true;
      else if (this.#draining && state.responses.size === 0 && !socket.destroyed) this.#armIdleTimer(socket, state);
    });
  }

  #armIdleTimer(socket: Socket, state: SocketState): void {
    clearTimeout(state.idleTimer);
    state.idleTimer = setTimeout(() => socket.destroy(), this.#idleGraceMs);
  }
}
