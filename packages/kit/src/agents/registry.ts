import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { configFileName, errors } from '../core/index.cjs';
import { defaultRestartPolicy, type RestartPolicy } from './restart-policy.js';

/** One agent as declared in agents.list of astro-cluster.config.json (or an AGENTS_CONFIG file). */
export interface AgentSpec {
  name: string;
  description: string;
  /** The script, absolute: JavaScript, or TypeScript run through tsx (always its current code, no build step). */
  script: string;
  restart: RestartPolicy;
}

/** The supervisor runs under this name; no agent may take it. */
export const supervisorName = 'supervisor';
const namePattern = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Reads and checks the agents config: adding an agent is adding an entry
 * there. The file is astro-cluster.config.json (`agents.list`, scripts
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
  return entries.map((entry: Record<string, unknown>, index) => {
    const where = `${prefix}[${index}]`;
    const name = entry?.name;
    if (typeof name !== 'string' || !namePattern.test(name) || name === supervisorName) {
      throw errors.agentsConfigInvalid(file, `${where}.name must be lower-case letters, digits and "-" (and not "${supervisorName}")`);
    }
    if (seen.has(name)) throw errors.agentsConfigInvalid(file, `${where}: the name ${name} is used twice`);
    seen.add(name);
    if (typeof entry.script !== 'string' || entry.script === '') throw errors.agentsConfigInvalid(file, `${where}.script must be a path`);
    const restart = { ...defaultRestartPolicy };
    for (const [key, value] of Object.entries((entry.restart as Record<string, unknown> | undefined) ?? {})) {
      if (!(key in restart)) throw errors.agentsConfigInvalid(file, `${where}.restart.${key} is not a setting`);
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw errors.agentsConfigInvalid(file, `${where}.restart.${key} must be a whole number`);
      }
      restart[key as keyof RestartPolicy] = value;
    }
    return {
      name,
      description: typeof entry.description === 'string' ? entry.description : '',
      script: path.resolve(path.dirname(file), entry.script),
      restart,
    };
  });
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
