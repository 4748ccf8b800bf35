import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';

/**
 * Backpressure the site's code cannot see otherwise: @astrojs/node writes a
 * Response body to the node response as fast as it can read it, ignoring
 * write()'s false. The kit's worker runs each request inside this store, so a
 * stream made by the kit (eventStream) can wait for the node response to
 * drain before it hands over more of a backlog.
 */
export interface ResponseFlow {
  /** Resolves at once while the response can take more; otherwise once it drained, or closed. */
  ready(): Promise<void>;
  /** The node response itself: an event stream writes its events to it directly (see events/sse.ts). */
  readonly response: ServerResponse;
}

// On globalThis: the site's bundle may hold its own copy of the kit's modules (see context.ts).
const key = Symbol.for('astro-cluster-kit.response-flow');
type Holder = { [key]?: AsyncLocalStorage<ResponseFlow> };

function storage(): AsyncLocalStorage<ResponseFlow> {
  const holder = globalThis as Holder;
  return (holder[key] ??= new AsyncLocalStorage<ResponseFlow>());
}

/** Runs `serve` with the flow of `res` available to whatever it calls, however deep and however async. */
export function withResponseFlow<T>(res: ServerResponse, serve: () => T): T {
  return storage().run(flowOf(res), serve);
}

/** The flow of the response being served, when the kit's worker serves it (undefined under `astro dev`, say). */
export function currentResponseFlow(): ResponseFlow | undefined {
  return storage().getStore();
}

function flowOf(res: ServerResponse): ResponseFlow {
  return {
    response: res,
    ready() {
      if (!res.writableNeedDrain || res.destroyed || res.writableEnded) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    },
  };
}
