import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { waitFor } from './wait.js';

export const nginxBinary = '/usr/sbin/nginx';

export interface RunningNginx {
  process: ChildProcess;
  /** The prefix folder: nginx.conf, nginx.pid, error.log, tmp/. */
  prefix: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * A real nginx (Debian's package) of our own, in the foreground, from
 * PREFIX/nginx.conf (a whole configuration, as `astro-cluster proxy nginx
 * --main` writes it), checked with `nginx -t` first. Stopped by its pid.
 */
export async function startNginx(prefix: string, port: number): Promise<RunningNginx> {
  if (!existsSync(nginxBinary)) throw new Error(`${nginxBinary} is missing: apt-get install -y nginx (tests/setup does it)`);
  const conf = path.join(prefix, 'nginx.conf');
  const errorLog = path.join(prefix, 'error.log');
  const check = spawnSync(nginxBinary, ['-t', '-p', prefix, '-c', conf, '-e', errorLog], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t refused ${conf}:\n${check.stderr}`);
  const child = spawn(nginxBinary, ['-p', prefix, '-c', conf, '-e', errorLog, '-g', 'daemon off;'], { stdio: 'ignore' });
  await waitFor(`nginx to listen on ${port}`, () => listening(port));
  return {
    process: child,
    prefix,
    errorLog: () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : ''),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM: a fast shutdown of the master, which ends its own workers.
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
