import path from 'node:path';
import { errors, hostRoles, type HostRole, type Settings } from '../core/index.cjs';

/** One host of the site, as `hosts` in astro-cluster.config.json names it. */
export interface HostEntry {
  name: string;
  /** Where the proxy reaches its web cluster. */
  url: URL;
  /** The project's folder on that host. */
  dir: string;
  /** ssh destination that runs its commands; undefined: this machine. */
  ssh: string | undefined;
  roles: HostRole[];
  /** Environment its commands run with (PM2_HOME for hosts sharing one machine). */
  env: Record<string, string>;
}

/**
 * The `hosts` list of the config file, checked: unique names, http(s) URLs
 * with a port, roles among web and agents. Empty when the file has none (a
 * single host needs no list).
 */
export function hostList(settings: Pick<Settings, 'hostList' | 'root' | 'configFile'>): HostEntry[] {
  const raw = settings.hostList;
  if (raw === undefined) return [];
  const problems: string[] = [];
  if (!Array.isArray(raw)) throw errors.configInvalid(settings.configFile ?? 'astro-cluster.config.json', ['hosts: expected an array of hosts']);
  const hosts: HostEntry[] = [];
  raw.forEach((item: unknown, i) => {
    const where = `hosts[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return void problems.push(`${where}: expected an object`);
    const entry = item as Record<string, unknown>;
    for (const key of Object.keys(entry)) if (!['name', 'url', 'dir', 'ssh', 'roles', 'env'].includes(key)) problems.push(`${where}.${key}: not a field (known: name, url, dir, ssh, roles, env)`);
    const name = typeof entry.name === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(entry.name) ? entry.name : undefined;
    if (!name) problems.push(`${where}.name: expected letters, digits, ".", "_" or "-", at most 64`);
    let url: URL | undefined;
    try {
      url = new URL(String(entry.url));
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search) throw new Error('not an origin');
    } catch {
      problems.push(`${where}.url: expected http://address:port (where the proxy reaches the host's web cluster)`);
    }
    if (entry.dir !== undefined && (typeof entry.dir !== 'string' || entry.dir.trim() === '')) problems.push(`${where}.dir: expected a folder`);
    if (entry.ssh !== undefined && (typeof entry.ssh !== 'string' || !/^[A-Za-z0-9_.@:[\]-]+$/.test(entry.ssh))) problems.push(`${where}.ssh: expected an ssh destination such as deploy@10.0.0.2`);
    const roles = entry.roles === undefined ? [...hostRoles] : entry.roles;
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((role) => (hostRoles as readonly unknown[]).includes(role))) problems.push(`${where}.roles: expected an array of "web" and "agents"`);
    const env = entry.env ?? {};
    if (typeof env !== 'object' || env === null || Array.isArray(env) || !Object.entries(env).every(([key, value]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) && typeof value === 'string')) {
      problems.push(`${where}.env: expected an object of variable names to strings`);
    }
    if (name && hosts.some((host) => host.name === name)) problems.push(`${where}.name: ${name} is listed twice`);
    if (name && url && Array.isArray(roles)) {
      const dir = typeof entry.dir === 'string' ? entry.dir : settings.root;
      hosts.push({
        name,
        url,
        // A local host's folder is relative to this project; a remote one is the remote path as written.
        dir: entry.ssh === undefined ? path.resolve(settings.root, dir) : dir,
        ssh: typeof entry.ssh === 'string' ? entry.ssh : undefined,
        roles: [...new Set(roles as HostRole[])],
        env: env as Record<string, string>,
      });
    }
  });
  if (problems.length > 0) throw errors.configInvalid(settings.configFile ?? 'astro-cluster.config.json', problems);
  return hosts;
}

/** The hosts a command works on: those named in `only` (comma-separated), else every host with the web role. */
export function webHosts(hosts: HostEntry[], only: string | undefined): HostEntry[] {
  if (hosts.length === 0) throw errors.usage('no hosts are listed in astro-cluster.config.json', 'Add `hosts` (name, url, and dir or ssh for each): docs/multi-host.md shows one.');
  const web = hosts.filter((host) => host.roles.includes('web'));
  if (only === undefined || only === '*') return web;
  const names = only.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !hosts.some((host) => host.name === name));
  if (unknown.length > 0) throw errors.usage(`unknown host(s): ${unknown.join(', ')}`, `The hosts of astro-cluster.config.json: ${hosts.map((host) => host.name).join(', ')}.`);
  const chosen = names.map((name) => hosts.find((host) => host.name === name)!);
  const notWeb = chosen.filter((host) => !host.roles.includes('web'));
  if (notWeb.length > 0) throw errors.usage(`${notWeb.map((host) => host.name).join(', ')} run no web cluster (roles)`, 'Only hosts with the web role serve releases.');
  return chosen;
}
