import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isAlive, startTicks } from 'astro-cluster-kit/core';
import { freePort } from './http.js';
import { waitFor } from './wait.js';

/** The operator password every test kit gets (OPERATOR_PASSWORD), for browser sign-ins on /sign-in. */
export const operatorPassword = 'test-operator-password';

export const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const pm2Bin = path.join(repoRoot, 'node_modules', 'pm2', 'bin', 'pm2');

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  output: string;
}

export interface Pm2Entry {
  name: string;
  pm_id: number;
  pid: number;
  pm2_env: { status: string; restart_time: number; unstable_restarts: number; pm_exec_path: string; env?: Record<string, string> };
}

/**
 * A private kit installation for one test file: its own PM2_HOME, LOGS_DIR
 * and port in a temporary folder, so tests never touch a user's ~/.pm2. It
 * cleans up only what it started: the daemon of its PM2_HOME and that
 * daemon's processes, by pid.
 */
export class TestKit {
  private constructor(
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv,
    readonly port: number,
  ) {}

  /** A kit already started with bin/start-pm2 (agents too), as most integration tests want it. */
  static async started(options: { instances?: number; env?: Record<string, string> } = {}, args: string[] = []): Promise<TestKit> {
    const kit = await TestKit.create(options);
    const started = await kit.run('start-pm2', args);
    if (started.code !== 0) throw new Error(`start-pm2 failed:\n${started.output}`);
    return kit;
  }

  static async create(options: { instances?: number; env?: Record<string, string> } = {}): Promise<TestKit> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'kit-test-'));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (/^(PM2_|pm_|NODE_APP_INSTANCE)/.test(key)) delete env[key];
    Object.assign(env, {
      PM2_HOME: path.join(dir, 'pm2'),
      LOGS_DIR: path.join(dir, 'logs'),
      HOST: '127.0.0.1',
      PORT: String(port),
      WEB_INSTANCES: String(options.instances ?? 2),
      NODE_ENV: 'production',
      FORCE_COLOR: '0',
      OPERATOR_PASSWORD: operatorPassword,
      ...options.env,
    });
    return new TestKit(dir, env, port);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get logsDir(): string {
    return this.env.LOGS_DIR as string;
  }

  /** The events token its workers made (LOGS_DIR/run/events.token), once started. */
  token(): string {
    return readFileSync(path.join(this.logsDir, 'run', 'events.token'), 'utf8').trim();
  }

  /** `Authorization: Bearer <token>`: what operator pages and APIs accept from scripts. */
  auth(): Record<string, string> {
    return { Authorization: `Bearer ${this.token()}` };
  }

  /** Runs bin/<command> as a user would, in this kit's environment. */
  run(command: string, args: string[] = [], env: Record<string, string> = {}, timeoutMs = 180_000): Promise<CommandResult> {
    return exec(path.join(repoRoot, 'bin', command), args, { ...this.env, ...env }, timeoutMs);
  }

  /** The pm2 CLI against this kit's daemon. */
  pm2(args: string[], env: Record<string, string> = {}): Promise<CommandResult> {
    return exec(process.execPath, [pm2Bin, ...args], { ...this.env, ...env }, 60_000);
  }

  async list(): Promise<Pm2Entry[]> {
    if (this.daemonPid() === undefined) return [];
    const { stdout, code, stderr } = await this.pm2(['jlist']);
    if (code !== 0) throw new Error(`pm2 jlist failed: ${stderr}`);
    return JSON.parse(stdout.slice(stdout.indexOf('['))) as Pm2Entry[];
  }

  /** The kit's web workers as PM2 lists them. */
  async workers(name = 'astro-web'): Promise<Pm2Entry[]> {
    return (await this.list()).filter((entry) => entry.name === name);
  }

  /** Waits until `count` workers are online with live pids, and returns them. */
  async onlineWorkers(count: number, exclude: ReadonlySet<number> = new Set()): Promise<Pm2Entry[]> {
    return waitFor(`${count} online workers`, async () => {
      const online = (await this.workers()).filter((w) => w.pm2_env.status === 'online' && w.pid > 0 && !exclude.has(w.pid));
      return online.length === count ? online : undefined;
    });
  }

  daemonPid(): number | undefined {
    const file = path.join(this.env.PM2_HOME as string, 'pm2.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8'));
    return pid > 0 && isAlive(pid) ? pid : undefined;
  }

  /** Live processes of this kit whose command line runs `script` (an agent, the supervisor). */
  processesRunning(script: string): number[] {
    // Named absolute, or relative to the repo as the reference config's commands name them.
    const relative = path.relative(repoRoot, script);
    return kitProcesses(this.logsDir).filter((pid) => {
      const cmdline = readCmdline(pid) ?? '';
      return cmdline.includes(script) || cmdline.split(' ').includes(relative);
    });
  }

  /** The owner record of an agent's lock, if any. */
  lockOwner(name: string): LockOwner | undefined {
    return readLockOwner(this.logsDir, name);
  }

  /** Stops what this kit started: its PM2 daemon (which stops its workers), then any agent, supervisor or worker left, by pid. */
  async cleanup(): Promise<void> {
    const daemon = this.daemonPid();
    if (daemon !== undefined) {
      process.kill(daemon, 'SIGTERM');
      await waitFor('the test PM2 daemon to exit', () => !isAlive(daemon), { timeoutMs: 20_000 }).catch(() => process.kill(daemon, 'SIGKILL'));
    }
    for (const pid of kitProcesses(this.logsDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface LockOwner {
  pid: number;
  startTicks: number | null;
  host: string;
  /** The agent's command, which its lock holder (pid) started. */
  child?: { pid: number; startTicks: number | null };
}

/** The owner record of an agent's lock under LOGS_DIR `logsDir`, if any. */
export function readLockOwner(logsDir: string, name: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path.join(logsDir, 'run', 'kit-locks', `${name}.owner.json`), 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

export function exec(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, args, { env, cwd: os.tmpdir(), timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr, output: `${stdout}${stderr}` });
    });
  });
}

/**
 * Processes started for a kit: those whose environment carries its LOGS_DIR
 * (agents, the supervisor, trial workers), which no other test or user
 * process has. Read from /proc, so even orphans are found.
 */
export function kitProcesses(logsDir: string): number[] {
  const marker = `LOGS_DIR=${logsDir}\0`;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry) && Number(entry) !== process.pid)
    .map(Number)
    .filter((pid) => {
      try {
        return `${readFileSync(`/proc/${pid}/environ`, 'utf8')}\0`.includes(marker) && startTicks(pid) !== undefined && !isPm2Daemon(pid);
      } catch {
        return false;
      }
    });
}

export function readCmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

function isPm2Daemon(pid: number): boolean {
  return (readCmdline(pid) ?? '').includes('God Daemon');
}
