import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAlive } from 'astro-cluster-kit/core';
import { freePort } from './http.js';
import { exec, kitProcesses, readCmdline, readLockOwner, repoRoot, type CommandResult, type LockOwner } from './kit.js';
import { redisCommand, redisServerBinary } from './redis.js';
import { waitFor } from './wait.js';

/**
 * One host of a multi-host test, simulated on this machine: a copy of the
 * repo of its own (bin/, apps/, its own astro-cluster.config.json, logs/ and
 * .astro-cluster/releases), its own PM2_HOME and port. node_modules and
 * packages/ are links to the checkout's (installed and built once); nothing
 * is written into the checkout.
 */
export class SimulatedHost {
  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly port: number,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(name: string, base: string, env: Record<string, string>): Promise<SimulatedHost> {
    const dir = path.join(base, name);
    mkdirSync(dir, { recursive: true });
    for (const file of ['package.json', 'pnpm-workspace.yaml', 'ecosystem.config.js', 'tsconfig.json']) cpSync(path.join(repoRoot, file), path.join(dir, file));
    cpSync(path.join(repoRoot, 'bin'), path.join(dir, 'bin'), { recursive: true });
    // The apps with their node_modules as pnpm made them: relative links that reach node_modules/.pnpm through the link below.
    const skip = new Set(['dist', '.astro', '.vite']);
    cpSync(path.join(repoRoot, 'apps'), path.join(dir, 'apps'), { recursive: true, verbatimSymlinks: true, filter: (source) => !skip.has(path.basename(source)) });
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
    symlinkSync(path.join(repoRoot, 'packages'), path.join(dir, 'packages'));
    // The checkout's current release, as this host's first one (its build.json newer than the sources: no build at start).
    const id = JSON.parse(readFileSync(path.join(repoRoot, '.astro-cluster', 'current', 'build.json'), 'utf8')).id as string;
    const release = path.join(dir, '.astro-cluster', 'releases', id);
    cpSync(realpathSync(path.join(repoRoot, '.astro-cluster', 'current')), release, { recursive: true, preserveTimestamps: true });
    writeFileSync(path.join(release, 'build.json'), JSON.stringify({ id, builtAt: new Date().toISOString() }));
    writeFileSync(path.join(dir, '.astro-cluster', 'releases', 'history.json'), JSON.stringify([{ id, activatedAt: new Date().toISOString() }]));
    symlinkSync(path.join('releases', id), path.join(dir, '.astro-cluster', 'current'));

    const port = await freePort();
    const clean: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(clean)) if (/^(PM2_|pm_|NODE_APP_INSTANCE|LOGS_DIR$|PORT$|HOST$|WEB_INSTANCES$|SITE_|RELEASES_DIR$)/.test(key)) delete clean[key];
    // pnpm 11 and later install before `pnpm run` when a workspace looks out of date, and this copy's does (another
    // path): that install would go through the node_modules link into the checkout's. Nothing needs installing here.
    const noInstall = { npm_config_verify_deps_before_run: 'false', pnpm_config_verify_deps_before_run: 'false' };
    return new SimulatedHost(name, dir, port, { ...clean, ...noInstall, PM2_HOME: path.join(dir, 'pm2'), NODE_ENV: 'production', FORCE_COLOR: '0', ...env });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get logsDir(): string {
    return path.join(this.dir, 'logs');
  }

  get pm2Home(): string {
    return this.env.PM2_HOME as string;
  }

  /** The pids of this host's processes whose command line names `script` (as the config names it, relative to the host's folder). */
  processesRunning(script: string): number[] {
    return kitProcesses(this.logsDir).filter((pid) => (readCmdline(pid) ?? '').split(' ').includes(script));
  }

  /** The owner record of an agent's lock on this host, if any. */
  lockOwner(name: string): LockOwner | undefined {
    return readLockOwner(this.logsDir, name);
  }

  /** Writes its astro-cluster.config.json. */
  configure(config: Record<string, unknown>): void {
    writeFileSync(path.join(this.dir, 'astro-cluster.config.json'), `${JSON.stringify(config, null, 2)}\n`);
  }

  /** bin/<command> of this host, as an operator on it would run it. */
  run(command: string, args: string[] = [], env: Record<string, string> = {}, timeoutMs = 240_000): Promise<CommandResult> {
    return exec(path.join(this.dir, 'bin', command), args, { ...this.env, ...env }, timeoutMs);
  }

  /** The kit's own command in this host's project (what bin/* front). */
  kit(args: string[], timeoutMs = 60_000): Promise<CommandResult> {
    return exec(path.join(this.dir, 'node_modules', '.bin', 'astro-cluster'), ['--root', this.dir, ...args], this.env, timeoutMs);
  }

  /** Stops what this host started: its PM2 daemon, then anything else carrying its LOGS_DIR, by pid. */
  async cleanup(): Promise<void> {
    const pidFile = path.join(this.pm2Home, 'pm2.pid');
    const daemon = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
    if (daemon > 0 && isAlive(daemon)) {
      process.kill(daemon, 'SIGTERM');
      await waitFor('a host PM2 daemon to exit', () => !isAlive(daemon), { timeoutMs: 20_000 }).catch(() => process.kill(daemon, 'SIGKILL'));
    }
    for (const pid of kitProcesses(this.logsDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
  }
}

/** A temporary folder for the hosts of one test file. */
export function hostsBase(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'kit-hosts-'));
}

export interface DurableRedis {
  url: string;
  port: number;
  /** Stops it (SIGTERM: it writes its append-only file and exits). */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder: what it acknowledged is back. */
  start(): Promise<void>;
  remove(): Promise<void>;
}

/**
 * A redis-server that keeps what it acknowledged across a stop (append-only
 * file, fsync on every write), for the test of Redis going away and coming
 * back. Its own port and folder; stopped by its pid.
 */
export async function startDurableRedis(): Promise<DurableRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kit-redis-durable-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(redisServerBinary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir, '--daemonize', 'no'], { stdio: 'ignore' });
    await waitFor('redis-server to answer PING', async () => (await redisCommand(port, 'PING').catch(() => '')).startsWith('+PONG'));
  };
  const stop = async () => {
    const running = child;
    if (running && running.exitCode === null && running.signalCode === null) {
      running.kill('SIGTERM');
      await new Promise((resolve) => running.once('exit', resolve));
    }
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    async remove() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
