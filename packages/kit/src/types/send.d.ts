// The part of `send` (the package @astrojs/node serves client files with)
// that the kit uses; @types/send is not a dependency for so little.
declare module 'send' {
  import type { IncomingMessage, ServerResponse } from 'node:http';
  import type { Stream } from 'node:stream';

  interface SendOptions {
    root?: string;
    dotfiles?: 'allow' | 'deny' | 'ignore';
    index?: false | string[];
  }
  interface SendStream extends Stream {
    on(event: 'headers', listener: (res: ServerResponse, path: string) => void): this;
    on(event: 'error', listener: (error: Error & { status?: number }) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    pipe<T extends NodeJS.WritableStream>(destination: T): T;
  }
  function send(req: IncomingMessage, path: string, options?: SendOptions): SendStream;
  export default send;
}
