import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { configFileName, describe, errors, type Reporter, type Settings } from '../core/index.cjs';
import { commandPath } from './command-path.js';

/**
 * An existing launcher kept as the launcher (`agents.launcher` of the config
 * file): a project that already starts and stops its agents with its own
 * tool (bin/mh) keeps it, and the kit only runs that tool's commands at the
 * right moments. The kit never looks for the launcher's processes itself,
 * let alone kills them by name or pattern: its own commands do that.
 */

/** A shell command line (run with /bin/sh -c), or an argv run directly. */
export type LauncherCommand = string | string[];

export interface Launcher {
  start: LauncherCommand;
  stop: LauncherCommand;
  /** Prints the agents' state as JSON (the first JSON value on stdout is taken). */
  status?: LauncherCommand;
}

export interface LauncherRun {
  ok: boolean;
  /** The exit code; null when it could not run, was killed, or timed out. */
  code: number | null;
  /** What it printed (stdout and stderr together), the last 256 KiB at most. */
  output: string;
  /** Why it has no exit code: it could not be run, or it timed out and was stopped. */
  error?: string;
}

export type LauncherStatus = { command: string; ok: true; status: unknown } | { command: string; ok: false; error: string };

const fields = ['start', 'stop', 'status'] as const;
const required = new Set(['start', 'stop']);
/** How long start and stop may take: a launcher that waits for its agents to come up may need a while. */
const runTimeoutMs = 120_000;
/** How long status may take: it is asked on every bin/status and every render of the agents page. */
const statusTimeoutMs = 15_000;
const keptOutput = 256 * 1024;

/** agents.launcher, checked; undefined when the project has none. Bad shapes are a KIT_AGENTS_CONFIG_INVALID naming each field. */
export function readLauncher(settings: Settings): Launcher | undefined {
  const raw = settings.agentsLauncher;
  if (raw === undefined) return undefined;
  const file = settings.configFile ?? path.join(settings.root, configFileName);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw errors.agentsConfigInvalid(file, 'agents.launcher: expected an object with the commands "start" and "stop" (and "status", optional)');
  }
  const problems: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!(fields as readonly string[]).includes(key)) problems.push(`agents.launcher.${key}: not a field (known: ${fields.join(', ')})`);
  }
  const launcher: Partial<Launcher> = {};
  for (const field of fields) {
    const value = (raw as Record<string, unknown>)[field];
    if (value === undefined && !required.has(field)) continue;
    if (isCommand(value)) launcher[field] = value;
    else problems.push(`agents.launcher.${field}: expected a command (a string or an array of strings)`);
  }
  if (problems.length > 0) throw errors.agentsConfigInvalid(file, problems.join('; '));
  return launcher as Launcher;
}

function isCommand(value: unknown): value is LauncherCommand {
  if (typeof value === 'string') return value.trim() !== '';
  return Array.isArray(value) && value.length > 0 && value.every((arg) => typeof arg === 'string') && (value[0] as string).trim() !== '';
}

/** A command as a person would type it. */
export function commandText(command: LauncherCommand): string {
  if (typeof command === 'string') return command;
  return command.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/**
 * Runs the launcher's start or stop command in the project root, showing
 * its output line by line, and says how it went; it never throws for a
 * failing command (callers decide what a failure means). Its output goes
 * to a file, not a pipe: agents it starts in the background inherit that
 * output, and would die writing into a pipe once the kit has exited.
 */
export async function runLauncher(
  settings: Settings,
  launcher: Launcher,
  which: 'start' | 'stop',
  report: Reporter,
  options: { timeoutMs?: number } = {},
): Promise<LauncherRun> {
  const command = launcher[which];
  const timeoutMs = options.timeoutMs ?? runTimeoutMs;
  report.step(`${which === 'start' ? 'starting' : 'stopping'} the agents with the launcher (${commandText(command)})`);
  const logFile = launcherLog(settings);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = await open(logFile, 'a+');
  try {
    await log.appendFile(`--- ${new Date().toISOString()} ${which}: ${commandText(command)}\n`);
    let offset = (await log.stat()).size;
    const decoder = new StringDecoder('utf8');
    let pending = '';
    let output = '';
    const take = (text: string) => {
      output = (output + text).slice(-keptOutput);
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) report.output(line);
    };
    // Reads what the command wrote since the last look (the file is shared with whatever it started).
    const readNew = async () => {
      const buffer = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await log.read(buffer, 0, buffer.length, offset);
        if (bytesRead === 0) return;
        offset += bytesRead;
        take(decoder.write(buffer.subarray(0, bytesRead)));
      }
    };
    const child = spawnCommand(settings, command, ['ignore', log.fd, log.fd]);
    let exited = false;
    const ended = waitForExit(child, timeoutMs).finally(() => (exited = true));
    // The command's output is shown as it comes; the file is read until (and once after) the command has ended.
    while (!exited) {
      await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 100))]);
      await readNew();
    }
    take(decoder.end());
    if (pending) take('\n');
    const done = await ended;
    return { ok: done.code === 0, code: done.code, output, ...(done.error !== undefined && { error: done.error }) };
  } finally {
    await log.close();
  }
}

/**
 * Asks the launcher's status command for its agents' state: the first JSON
 * value it prints on stdout. A command that fails, or prints no JSON, is an
 * error the caller shows (bin/status counts it as a problem).
 */
export async function launcherStatus(settings: Settings, launcher: Launcher): Promise<LauncherStatus> {
  if (launcher.status === undefined) return { command: '', ok: false, error: 'agents.launcher has no status command' };
  const command = commandText(launcher.status);
  const child = spawnCommand(settings, launcher.status, ['ignore', 'pipe', 'pipe']);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout = (stdout + chunk).slice(-4 * keptOutput)));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-keptOutput)));
  const done = await waitForExit(child, statusTimeoutMs, true);
  const lastLines = (text: string) => text.trim().split('\n').slice(-5).join('\n');
  if (done.error) return { command, ok: false, error: done.error };
  if (done.code !== 0) return { command, ok: false, error: `exited with code ${done.code}${stderr.trim() || stdout.trim() ? `:\n${lastLines(stderr.trim() || stdout)}` : ''}` };
  const json = firstJsonValue(stdout);
  if (!json) return { command, ok: false, error: `printed no JSON${stdout.trim() ? `:\n${lastLines(stdout)}` : ''}` };
  return { command, ok: true, status: json.value };
}

/** Where the launcher's start and stop output goes: a file of the kit's own, beside its kit-locks and kit-state. */
export function launcherLog(settings: Settings): string {
  return path.join(settings.logsDir, 'run', 'kit-launcher.log');
}

/** Spawns a launcher command in the project root, with the project's node_modules/.bin first on PATH (as pnpm scripts have it). */
function spawnCommand(settings: Settings, command: LauncherCommand, stdio: ['ignore', 'pipe' | number, 'pipe' | number]): ChildProcess {
  const env = { ...process.env, PATH: commandPath(settings.root) };
  // An argv is looked up on that PATH (libuv searches the child's PATH); a string is a shell command line.
  const [file, args] = typeof command === 'string' ? ['/bin/sh', ['-c', command]] : [command[0]!, command.slice(1)];
  return spawn(file, args, { cwd: settings.root, env, stdio });
}

/**
 * Waits for the command to exit, stopping it (our own child, by its pid)
 * after `timeoutMs`. Only that process is signalled: what it started (its
 * agents, or a command a shell runs in it) is the launcher's own, and the
 * kit does not go looking for it. With pipes, what it printed is read until they close,
 * or briefly after the exit when something it started keeps them open.
 */
function waitForExit(child: ChildProcess, timeoutMs: number, pipes = false): Promise<{ code: number | null; error?: string }> {
  return new Promise((resolve) => {
    let timedOut = false;
    let exit: { code: number | null } | undefined;
    const timers: NodeJS.Timeout[] = [];
    const finish = (result: { code: number | null; error?: string }) => {
      for (const timer of timers) clearTimeout(timer);
      resolve(result);
    };
    const settle = () => {
      if (!exit) return;
      finish(timedOut ? { code: null, error: `timed out after ${timeoutMs / 1000} s, and was stopped` } : exit);
    };
    timers.push(
      setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        // One that ignores SIGTERM is killed: the kit must not wait on it for ever.
        timers.push(setTimeout(() => child.kill('SIGKILL'), 5000));
      }, timeoutMs),
    );
    child.once('error', (error) => finish({ code: null, error: `could not run it: ${describe(error)}` }));
    child.once('exit', (code) => {
      exit = { code: timedOut ? null : code };
      if (!pipes) return settle();
      // 'close' follows once the pipes are drained; a background child holding them must not hold us.
      timers.push(
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          settle();
        }, 1000),
      );
    });
    if (pipes) child.once('close', settle);
  });
}

/** The first JSON value in `text` (an object or an array, possibly after other lines), or the whole text when it is JSON. */
export function firstJsonValue(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    // Look for one inside.
  }
  for (let start = 0; start < text.length; start++) {
    const char = text[start];
    if (char !== '{' && char !== '[') continue;
    const end = valueEnd(text, start);
    if (end === undefined) continue;
    try {
      return { value: JSON.parse(text.slice(start, end)) as unknown };
    } catch {
      // Not JSON from here: try the next bracket.
    }
  }
  return undefined;
}

/** Where the bracketed value starting at `start` ends (exclusive), skipping brackets inside strings. */
function valueEnd(text: string, start: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === '{' || char === '[') {
      depth++;
    } else if (char === '}' || char === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return undefined;
}
