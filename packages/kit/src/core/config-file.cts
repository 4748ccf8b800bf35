import { readFileSync } from 'node:fs';
import path from 'node:path';
import { errors } from './errors.cjs';
import { configFileName } from './paths.cjs';

/**
 * astro-cluster.config.json, checked for shape: every key known, every
 * section an object. Values are checked by readSettings, which gives each
 * setting one parser whether it comes from this file or the environment.
 */
export interface ConfigFile {
  file: string;
  /** The file's values by dotted field name (`web.port`), as strings or string lists. */
  values: Map<string, string | string[]>;
  /** agents.list as written (the agents registry checks each entry). */
  agents: unknown[] | undefined;
  /** agents.launcher as written: an existing launcher's commands (agents/launcher.ts checks it). */
  launcher: unknown;
  /** hosts as written: every host of the site (hosts/host-list.ts checks it). */
  hosts: unknown;
}

/** The fields the file may hold: scalar, list of strings, or raw (checked elsewhere). */
const fields: Record<string, 'scalar' | 'list' | 'raw'> = {
  $schema: 'raw',
  logsDir: 'scalar',
  'site.dir': 'scalar',
  'site.build': 'scalar',
  'site.outDir': 'scalar',
  'site.inputs': 'list',
  'web.name': 'scalar',
  'web.instances': 'scalar',
  'web.host': 'scalar',
  'web.hosts': 'scalar',
  'web.port': 'scalar',
  'web.healthPath': 'scalar',
  'web.drainTimeoutMs': 'scalar',
  'web.startTimeoutMs': 'scalar',
  'web.maxMemory': 'scalar',
  'web.maxConnections': 'scalar',
  'web.maxStreams': 'scalar',
  'web.maxStreamsPerClient': 'scalar',
  'web.headersTimeoutMs': 'scalar',
  'web.requestTimeoutMs': 'scalar',
  'releases.dir': 'scalar',
  'releases.keep': 'scalar',
  'events.backend': 'scalar',
  'events.redisUrl': 'scalar',
  'agents.list': 'raw',
  'agents.launcher': 'raw',
  'agents.locksDir': 'scalar',
  'agents.lockStaleMs': 'scalar',
  'agents.leaseMs': 'scalar',
  'metrics.path': 'scalar',
  'metrics.port': 'scalar',
  'metrics.sampleMs': 'scalar',
  // Several hosts (docs/multi-host.md).
  roles: 'list',
  hostName: 'scalar',
  hosts: 'raw',
  'web.trustedProxies': 'list',
  'proxy.listen': 'scalar',
  'proxy.serverName': 'scalar',
  'proxy.failTimeoutS': 'scalar',
  'proxy.drainMs': 'scalar',
};
const sections = new Set(Object.keys(fields).filter((key) => key.includes('.')).map((key) => key.split('.')[0]!));

/** Reads the config file at `root`; undefined when there is none (every setting then has its default). */
export function readConfigFile(root: string): ConfigFile | undefined {
  const file = path.join(root, configFileName);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw errors.configInvalid(file, [(error as Error).message]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw errors.configInvalid(file, [`not JSON: ${(error as Error).message}`]);
  }
  if (!isObject(raw)) throw errors.configInvalid(file, ['expected a JSON object']);

  const problems: string[] = [];
  const values = new Map<string, string | string[]>();
  let agents: unknown[] | undefined;
  let launcher: unknown;
  let hosts: unknown;
  const take = (field: string, value: unknown) => {
    const kind = fields[field];
    if (kind === undefined) return problems.push(`${field}: not a setting (known: ${Object.keys(fields).filter((f) => f !== '$schema').join(', ')})`);
    if (kind === 'raw') {
      if (field === 'agents.list') {
        if (Array.isArray(value)) agents = value;
        else problems.push('agents.list: expected an array of agents');
      }
      if (field === 'agents.launcher') launcher = value;
      if (field === 'hosts') hosts = value;
      return;
    }
    if (kind === 'list') {
      if (Array.isArray(value) && value.every((item) => typeof item === 'string' && item.trim() !== '')) values.set(field, value as string[]);
      else problems.push(`${field}: expected an array of ${field === 'site.inputs' ? 'paths' : 'strings'}`);
      return;
    }
    if (typeof value === 'string' || typeof value === 'number') values.set(field, String(value));
    else problems.push(`${field}: expected a string or a number`);
  };
  for (const [key, value] of Object.entries(raw)) {
    if (sections.has(key)) {
      if (!isObject(value)) {
        problems.push(`${key}: expected an object`);
        continue;
      }
      for (const [inner, innerValue] of Object.entries(value)) take(`${key}.${inner}`, innerValue);
    } else {
      take(key, value);
    }
  }
  if (problems.length > 0) throw errors.configInvalid(file, problems);
  return { file, values, agents, launcher, hosts };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
