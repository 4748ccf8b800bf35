import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './http.js';
import { waitFor } from './wait.js';

export const redisServerBinary = '/usr/bin/redis-server';

export interface RedisServer {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * A real redis-server (Debian's package) of our own, on a free loopback port,
 * with no persistence, stopped by its pid.
 */
export async function startRedis(): Promise<RedisServer> {
  if (!existsSync(redisServerBinary)) throw new Error(`${redisServerBinary} is missing: apt-get install -y redis-server (tests/setup does it)`);
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-redis-'));
  const child = spawn(redisServerBinary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], {
    stdio: 'ignore',
  });
  await waitFor('redis-server to answer PING', () => ping(port));
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One raw RESP command, for checks from tests. */
export function redisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`);
    });
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.endsWith('\r\n')) {
        socket.end();
        resolve(reply);
      }
    });
    socket.on('error', reject);
  });
}

async function ping(port: number): Promise<boolean> {
  return (await redisCommand(port, 'PING').catch(() => '')).startsWith('+PONG');
}
