import net from 'node:net';
import { commandLine, listeningPid } from '../core/index.cjs';

export type PortState = { free: true } | { free: false; owner: string | undefined };

/** Whether HOST:PORT can be bound now, and if not, which process holds it. */
export function checkPort(host: string, port: number): Promise<PortState> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EADDRINUSE') return reject(error);
      const pid = listeningPid(port);
      const command = pid === undefined ? undefined : commandLine(pid);
      resolve({ free: false, owner: pid === undefined ? undefined : `pid ${pid}${command ? ` (${command.slice(0, 120)})` : ''}` });
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve({ free: true })));
  });
}

/** A TCP port nobody listens on right now, on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
