import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readlink, rename, symlink, unlink } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Longest path a Unix socket can be bound to on Linux (sun_path is 108 bytes, with its NUL). */
const SOCKET_PATH_MAX = 107;

/**
 * How the file event log wakes its readers, on one host: every process that
 * follows a topic listens on a Unix socket in ROOT/.wake, and a publisher,
 * once its line is appended, writes the topic's name to each of them.
 *
 * Why nothing can be missed: a reader registers its socket (and its interest
 * in a topic) before it fixes where it reads from, and a publisher lists the
 * sockets only after its append. Either the publisher saw the socket, and it
 * wakes the reader, or it listed them before the socket existed, and then
 * its append came before the reader's starting point, which includes it. A
 * woken reader reads to the end of the file, so wake-ups may merge but never
 * lose an event. Publishers are any process (web workers, agents, commands,
 * with or without PM2): all they need is the folder.
 */
export class WakeBus {
  readonly #dir: string;
  /** Our own socket's name in the folder, once listening. */
  #name: string | undefined;
  #listening: Promise<void> | undefined;
  #server: net.Server | undefined;
  /** Outside the folder when the folder's path is too long for a socket: the folder holds a link to it. */
  #outside: string | undefined;
  /** Connections to other processes' sockets, kept open between publishes. */
  readonly #peers = new Map<string, Promise<net.Socket | undefined>>();
  readonly #onTopic: (topic: string, detail: string | undefined) => void;
  #forgetExit: (() => void) | undefined;

  constructor(root: string, onTopic: (topic: string, detail: string | undefined) => void) {
    this.#dir = path.join(root, '.wake');
    this.#onTopic = onTopic;
  }

  /** Starts listening (once): from when this resolves, every publish on this host wakes us. */
  listen(): Promise<void> {
    this.#listening ??= this.#listen().catch((error: unknown) => {
      this.#listening = undefined;
      throw error;
    });
    return this.#listening;
  }

  async #listen(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const name = `${process.pid}-${randomBytes(6).toString('hex')}.sock`;
    const final = path.join(this.#dir, name);
    const server = net.createServer((socket) => {
      let rest = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          if (line === '') continue;
          const space = line.indexOf(' ');
          if (space === -1) this.#onTopic(line, undefined);
          else this.#onTopic(line.slice(0, space), line.slice(space + 1));
        }
      });
      socket.on('error', () => undefined);
    });
    server.on('error', () => undefined);
    // Bound under a name publishers ignore, then renamed into place: a publisher never connects between bind and listen and takes it for stale.
    const direct = Buffer.byteLength(final) <= SOCKET_PATH_MAX;
    const bound = direct ? path.join(this.#dir, `.${name}.new`) : path.join(os.tmpdir(), `kit-wake-${name}`);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.unref();
    if (direct) {
      await rename(bound, final);
    } else {
      this.#outside = bound;
      await symlink(bound, final);
    }
    this.#server = server;
    this.#name = name;
    // A process that exits without close() leaves no socket behind (publishers would remove it anyway).
    const onExit = () => this.#unlinkSync();
    process.once('exit', onExit);
    this.#forgetExit = () => process.off('exit', onExit);
  }

  /**
   * Whether the listening socket keeps the process alive: while it follows
   * a topic, yes (a process that only subscribes must not exit under its
   * subscription, as a Redis connection would not let it either).
   */
  keepAlive(on: boolean): void {
    if (on) this.#server?.ref();
    else this.#server?.unref();
  }

  /**
   * Wakes every reader of this host for `topic`: call after the event is
   * stored. `detail` (one line) goes with it: the file log sends the event's
   * line, which a reader may take instead of reading the file. Resolves once
   * each was told (or found gone).
   */
  async notify(topic: string, detail?: string): Promise<void> {
    const message = detail === undefined ? `${topic}\n` : `${topic} ${detail}\n`;
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    await Promise.all(
      names.map(async (name) => {
        if (!name.endsWith('.sock')) return;
        if (name === this.#name) return this.#onTopic(topic, detail);
        const socket = await this.#peer(name);
        if (socket) await new Promise<void>((resolve) => socket.write(message, () => resolve()));
      }),
    );
  }

  /** A kept connection to a peer's socket; undefined (and the socket removed) when nobody listens there any more. */
  #peer(name: string): Promise<net.Socket | undefined> {
    let peer = this.#peers.get(name);
    if (!peer) {
      const file = path.join(this.#dir, name);
      const connect = (to: string, resolve: (socket: net.Socket | undefined) => void) => {
        const socket = net.connect(to);
        socket.once('connect', () => {
          socket.unref(); // A command that published and is done must not stay alive for this.
          resolve(socket);
        });
        socket.once('error', (error: NodeJS.ErrnoException) => {
          this.#peers.delete(name);
          // Refused: the process is gone (its socket stays until someone removes it). ENOENT: a link whose socket is gone.
          if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') void unlink(file).catch(() => undefined);
          resolve(undefined);
        });
        socket.on('close', () => this.#peers.delete(name));
        socket.on('data', () => undefined);
      };
      peer = new Promise((resolve) => {
        // A link (the folder's path is too long to connect through): connect to where it points.
        const target = Buffer.byteLength(file) <= SOCKET_PATH_MAX ? Promise.resolve(file) : readlink(file).catch(() => file);
        void target.then((to) => connect(to, resolve));
      });
      this.#peers.set(name, peer);
    }
    return peer;
  }

  /** Stops listening and drops the kept connections. */
  async close(): Promise<void> {
    for (const peer of this.#peers.values()) void peer.then((socket) => socket?.destroy());
    this.#peers.clear();
    await this.#listening?.catch(() => undefined);
    this.#forgetExit?.();
    this.#unlinkSync();
    this.#server?.close();
    this.#server = undefined;
    this.#listening = undefined;
  }

  #unlinkSync(): void {
    if (this.#name === undefined) return;
    for (const file of [path.join(this.#dir, this.#name), this.#outside]) {
      if (!file) continue;
      try {
        unlinkSync(file);
      } catch {
        // Already gone.
      }
    }
    this.#name = undefined;
  }
}
