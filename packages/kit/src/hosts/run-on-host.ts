import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { explicitSettings, secretNames, type Reporter } from '../core/index.cjs';
import type { HostEntry } from './host-list.js';

export interface HostRun {
  code: number;
  /** Its last lines, for an error message. */
  tail: string[];
}

/**
 * Runs `astro-cluster <args>` in a host's project: over `ssh` when the host
 * has one (`cd DIR && env … ./node_modules/.bin/astro-cluster …`), else on
 * this machine in the host's folder. Either way the command reads that
 * host's own config file and secrets; none of this shell's kit settings
 * travel (another host's PORT or LOGS_DIR would be wrong there), only the
 * host entry's `env`. Each line it prints is reported, prefixed with the
 * host's name; `input` goes to its stdin.
 */
export function runOnHost(host: HostEntry, args: string[], report: Reporter, input?: Readable): Promise<HostRun> {
  const kit = './node_modules/.bin/astro-cluster';
  const child = host.ssh
    ? spawn('ssh', ['-o', 'BatchMode=yes', host.ssh, [`cd ${quote(host.dir)}`, '&&', 'env', ...Object.entries(host.env).map(([k, v]) => quote(`${k}=${v}`)), kit, ...args.map(quote)].join(' ')], {
        stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      })
    : spawn(path.join(host.dir, kit), ['--root', host.dir, ...args], { cwd: host.dir, env: localEnv(host), stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  if (input && child.stdin) input.pipe(child.stdin);
  const tail: string[] = [];
  const line = (text: string) => {
    report.output(`[${host.name}] ${text}`);
    tail.push(text);
    if (tail.length > 20) tail.shift();
  };
  readline.createInterface({ input: child.stdout! }).on('line', line);
  readline.createInterface({ input: child.stderr! }).on('line', line);
  return new Promise((resolve) => {
    child.once('error', (error) => {
      line(`could not run: ${error.message}`);
      resolve({ code: 127, tail });
    });
    child.once('close', (code) => resolve({ code: code ?? 1, tail }));
  });
}

/** This environment without the kit's settings, secrets and PM2's variables, plus the host's own `env`. */
function localEnv(host: HostEntry): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [...Object.keys(explicitSettings(env)), ...secretNames, 'ASTRO_CLUSTER_ROOT', 'PM2_HOME']) delete env[name];
  for (const name of Object.keys(env)) if (/^(pm_|PM2_|NODE_APP_INSTANCE)/.test(name)) delete env[name];
  return { ...env, ...host.env };
}

/** One word for a POSIX shell. */
function quote(word: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
