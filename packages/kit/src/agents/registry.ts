import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { configFileName, errors } from '../core/index.cjs';
import { defaultRestartPolicy, type RestartPolicy } from './restart-policy.js';

/** One agent (or service) as declared in agents.list of astro-cluster.config.json (or an AGENTS_CONFIG file). */
export interface AgentSpec {
  name: string;
  description: string;
  /**
   * What runs, as an argv: the entry's `command`, or for a `script` entry
   * Node on that script (TypeScript through tsx, so always its current code).
   * A bare first word is looked up on PATH, with the project's node_modules/.bin first.
   */
  command: string[];
  /** Where it runs (absolute): the entry's `cwd`, relative to the config's folder; default that folder. */
  cwd: string;
  /** Added to the kit's environment. */
  env: Record<string, string>;
  restart: RestartPolicy;
  /** How long a stop waits after SIGTERM before SIGKILL to the command's process group. */
  stopTimeoutMs: number;
  /** Agents do background work; services (a tunnel, a voice server) are shown apart. */
  kind: 'agent' | 'service';
  /** An optional entry whose command is missing is reported and skipped, never failed. */
  optional: boolean;
  /** The script of a `script` entry, absolute (what tests and `ps` recognise it by). */
  script?: string | undefined;
}

/** The supervisor runs under this name; no agent may take it. */
export const supervisorName = 'supervisor';
const namePattern = /^[a-z][a-z0-9-]{0,62}$/;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const known = new Set(['name', 'description', 'script', 'command', 'cwd', 'env', 'restart', 'stopTimeoutMs', 'kind', 'optional']);

/**
 * Reads and checks the agents config: adding an agent is adding an entry
 * there. The file is astro-cluster.config.json (`agents.list`, paths
 * relative to it) or a file of its own (`{ "agents": [ … ] }`). A project
 * without agents has none.
 */
export async function loadAgents(file: string): Promise<AgentSpec[]> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && path.basename(file) === configFileName) return [];
    throw errors.agentsConfigInvalid(file, (error as Error).message);
  }
  // The project's config may have no agents; a file of agents must list them.
  const inProjectConfig = path.basename(file) === configFileName;
  const agents = (raw as { agents?: unknown })?.agents;
  const entries = inProjectConfig ? ((agents as { list?: unknown } | undefined)?.list ?? []) : agents;
  const prefix = inProjectConfig ? 'agents.list' : 'agents';
  if (!Array.isArray(entries)) throw errors.agentsConfigInvalid(file, inProjectConfig ? 'expected agents.list to be an array of agents' : 'expected { "agents": [ … ] }');
  const seen = new Set<string>();
  return entries.map((entry: unknown, index) => {
    const spec = parseEntry(entry, `${prefix}[${index}]`, path.dirname(file), (problem) => errors.agentsConfigInvalid(file, problem));
    if (seen.has(spec.name)) throw errors.agentsConfigInvalid(file, `${prefix}[${index}]: the name ${spec.name} is used twice`);
    seen.add(spec.name);
    return spec;
  });
}

function parseEntry(entry: unknown, where: string, base: string, invalid: (problem: string) => Error): AgentSpec {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw invalid(`${where} must be an object`);
  const e = entry as Record<string, unknown>;
  for (const key of Object.keys(e)) if (!known.has(key)) throw invalid(`${where}.${key} is not a setting (known: ${[...known].join(', ')})`);
  const name = e.name;
  if (typeof name !== 'string' || !namePattern.test(name) || name === supervisorName) {
    throw invalid(`${where}.name must be lower-case letters, digits and "-" (and not "${supervisorName}")`);
  }
  const at = `${where} (${name})`;
  if ((e.script === undefined) === (e.command === undefined)) throw invalid(`${at} needs either "command" (an argv array) or "script" (a path)`);
  let command: string[];
  let script: string | undefined;
  if (e.script !== undefined) {
    if (typeof e.script !== 'string' || e.script === '') throw invalid(`${at}.script must be a path`);
    script = path.resolve(base, e.script);
    command = [process.execPath, ...scriptFlags(script), script];
  } else {
    if (!Array.isArray(e.command) || e.command.length === 0 || !e.command.every((arg) => typeof arg === 'string') || e.command[0] === '') {
      throw invalid(`${at}.command must be a non-empty array of strings, such as ["tsx", "scripts/worker.ts", "${name}"]`);
    }
    command = e.command as string[];
  }
  if (e.cwd !== undefined && (typeof e.cwd !== 'string' || e.cwd === '')) throw invalid(`${at}.cwd must be a folder`);
  if (e.env !== undefined && (typeof e.env !== 'object' || e.env === null || Array.isArray(e.env) || !Object.values(e.env).every((value) => typeof value === 'string'))) {
    throw invalid(`${at}.env must be an object of strings`);
  }
  const stopTimeoutMs = e.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  if (typeof stopTimeoutMs !== 'number' || !Number.isInteger(stopTimeoutMs) || stopTimeoutMs < 100 || stopTimeoutMs > 600_000) {
    throw invalid(`${at}.stopTimeoutMs must be a whole number from 100 to 600000`);
  }
  const kind = e.kind ?? 'agent';
  if (kind !== 'agent' && kind !== 'service') throw invalid(`${at}.kind must be "agent" or "service"`);
  if (e.optional !== undefined && typeof e.optional !== 'boolean') throw invalid(`${at}.optional must be true or false`);
  const restart = { ...defaultRestartPolicy };
  for (const [key, value] of Object.entries((e.restart as Record<string, unknown> | undefined) ?? {})) {
    if (!(key in restart)) throw invalid(`${at}.restart.${key} is not a setting`);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw invalid(`${at}.restart.${key} must be a whole number`);
    restart[key as keyof RestartPolicy] = value;
  }
  return {
    name,
    description: typeof e.description === 'string' ? e.description : '',
    command,
    cwd: path.resolve(base, (e.cwd as string | undefined) ?? '.'),
    env: (e.env as Record<string, string> | undefined) ?? {},
    restart,
    stopTimeoutMs,
    kind,
    optional: e.optional === true,
    script,
  };
}

/** Node's flags for a script: TypeScript runs through tsx (the kit's own), so an agent always runs its current code. */
export function scriptFlags(script: string): string[] {
  return /\.[cm]?ts$/.test(script) ? ['--enable-source-maps', '--import', import.meta.resolve('tsx')] : ['--enable-source-maps'];
}

/** The specs for the names asked for (all when none), or a usage error naming the unknown one. */
export function pickAgents(all: AgentSpec[], names: string[]): AgentSpec[] {
  if (names.length === 0) return all;
  return names.map((name) => {
    const spec = all.find((agent) => agent.name === name);
    if (!spec) throw errors.unknownAgent(name, all.map((agent) => agent.name));
    return spec;
  });
}
