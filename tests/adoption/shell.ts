// Running commands in the adoption test's throwaway repo, as a user would in
// a shell: a clean environment with the wanted Node first on PATH, bounded
// in time, with progress lines while something slow runs.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pathWithFirst } from '../setup/node-versions.js';

export type RepoEnv = NodeJS.ProcessEnv;

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  output: string;
}

export interface RunOptions {
  cwd: string;
  env: RepoEnv;
  timeoutMs: number;
  /** Resolve with a non-zero code instead of throwing. */
  allowFailure?: boolean;
  /** Print a line every so often while it runs (long installs and builds). */
  progress?: string;
}

/**
 * Runs `file args` and collects its output. On timeout it ends the command's
 * own process group (it is started as a group leader, so an `astro build`
 * under pnpm goes too), by that group's id only; daemons that detach
 * themselves (PM2's) are not in it and are cleaned up by pid elsewhere.
 */
export function run(file: string, args: string[], { cwd, env, timeoutMs, allowFailure = false, progress }: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const shown = `${path.basename(file)} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const all: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => (out.push(chunk), all.push(chunk)));
    child.stderr.on('data', (chunk: Buffer) => (err.push(chunk), all.push(chunk)));
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      setTimeout(() => killGroup(child.pid, 'SIGKILL'), 5_000).unref();
    }, timeoutMs);
    const ticker = progress
      ? setInterval(() => say(`${progress} (still running, ${Math.round((Date.now() - started) / 1000)} s)`), 30_000)
      : undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(ticker);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const output = Buffer.concat(all).toString('utf8');
      const result: RunResult = { code: code ?? (signal ? 128 : 1), stdout, stderr, output };
      if (error) return reject(new Error(`${shown} (in ${cwd}) could not run: ${error.message}`));
      if (timedOut) return reject(new Error(`${shown} (in ${cwd}) timed out after ${timeoutMs} ms\n${tail(output)}`));
      if (result.code !== 0 && !allowFailure) {
        return reject(new Error(`${shown} (in ${cwd}) exited with ${signal ?? code}\n${tail(output)}`));
      }
      resolve(result);
    };
    child.on('error', (error) => finish(null, null, error));
    // 'close' waits for the output pipes; a grandchild that keeps them open
    // (a daemon that did not redirect its output) must not hang the test.
    child.on('exit', (code, signal) => {
      const grace = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code, signal);
      }, 3_000);
      grace.unref();
      child.on('close', () => {
        clearTimeout(grace);
        finish(code, signal);
      });
    });
  });
}

/**
 * A progress line, on stderr: node:test's runner reads a test file's stdout
 * as its own serialized messages (Node 20 sometimes fails to tell them from
 * text printed between them: "Unable to deserialize cloned data"), and shows
 * stderr lines as they come.
 */
export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The last lines of a command's output, for an error message. */
export function tail(text: string, chars = 6_000): string {
  return text.length <= chars ? text : `…${text.slice(-chars)}`;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * The environment a user's shell would give the repo's commands: ours minus
 * whatever belongs to the test runner or an enclosing pnpm/npm/PM2/git (those
 * would change what the commands do), with `nodeBinDir` first on PATH, plus
 * `extra`.
 */
export function repoEnv(nodeBinDir: string, extra: Record<string, string> = {}): RepoEnv {
  const env: RepoEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(npm_|PM2_|pm_|NODE_APP_INSTANCE$|NODE_TEST_CONTEXT$|NODE_OPTIONS$|NODE_ENV$|TSX_|GIT_DIR$|GIT_WORK_TREE$|GIT_INDEX_FILE$)/.test(key)) continue;
    if (['LOGS_DIR', 'HOST', 'PORT', 'WEB_INSTANCES', 'WEB_APP_NAME', 'SITE_DIR', 'REDIS_URL', 'INIT_CWD', 'PNPM_SCRIPT_SRC_DIR'].includes(key)) continue;
    env[key] = value;
  }
  env.PATH = pathWithFirst(nodeBinDir);
  env.FORCE_COLOR = '0';
  env.ASTRO_TELEMETRY_DISABLED = '1';
  return Object.assign(env, extra);
}
