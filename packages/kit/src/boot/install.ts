import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errors, explicitSettings, logPaths, pm2Home, type Reporter, type Settings } from '../core/index.cjs';
import { saveProcessList } from '../cluster/index.js';
import { renderUnit, type UnitOptions } from './unit.js';

export interface StartupOptions {
  mode: 'system' | 'user';
  /** Where the unit goes (default: /etc/systemd/system, or ~/.config/systemd/user). */
  dir?: string;
  /** The system unit's User=: default the current user, or SUDO_USER under sudo. */
  userName?: string;
  /** Lets the system unit run as root (refused otherwise). */
  allowRoot?: boolean;
}

export interface StartupFiles {
  name: string;
  unit: string;
  environment: string;
}

export function startupFiles(settings: Settings, options: StartupOptions): StartupFiles {
  const name = `astro-kit-${settings.webAppName}`;
  const dir = options.dir ?? (options.mode === 'system' ? '/etc/systemd/system' : path.join(os.homedir(), '.config', 'systemd', 'user'));
  return { name, unit: path.join(dir, `${name}.service`), environment: path.join(logPaths(settings.logsDir).run, `${name}.env`) };
}

export function unitFor(settings: Settings, options: StartupOptions): string {
  const files = startupFiles(settings, options);
  const user = unitUser(options);
  const unit: UnitOptions = {
    name: files.name,
    mode: options.mode,
    root: settings.root,
    node: realpathSync(process.execPath),
    user: user.name,
    pm2Home: user.pm2Home,
    environmentFile: files.environment,
  };
  return renderUnit(unit);
}

/**
 * Writes the unit and the settings file it reads, saves PM2's process list
 * (what runs now is what boots), and enables the unit when systemd runs;
 * otherwise says what to run where it does.
 */
export async function installStartup(settings: Settings, options: StartupOptions, report: Reporter): Promise<{ files: StartupFiles; enabled: boolean }> {
  const files = startupFiles(settings, options);
  // Refused before anything is written.
  const unit = unitFor(settings, options);
  await mkdir(path.dirname(files.environment), { recursive: true });
  await writeFile(files.environment, environmentFile(settings), { mode: 0o600 });
  // The mode above applies only to a new file; one written before may hold tokens readable by all.
  await chmod(files.environment, 0o600);
  await mkdir(path.dirname(files.unit), { recursive: true });
  await writeFile(files.unit, unit);
  report.done(`wrote ${files.unit} (settings in ${files.environment})`);
  if (await saveProcessList()) report.done('saved the PM2 process list: what runs now is what boots');

  if (!systemdRunning()) {
    const user = options.mode === 'user' ? ' --user' : '';
    report.warn(`systemd is not running here (it is not PID 1), so the unit was not enabled. Where it runs: systemctl${user} daemon-reload && systemctl${user} enable --now ${files.name}`);
    return { files, enabled: false };
  }
  systemctl(options, 'daemon-reload');
  systemctl(options, 'enable', `${files.name}.service`);
  report.done(`enabled ${files.name}.service${options.mode === 'user' ? ' (user mode: `loginctl enable-linger` lets it start before you log in)' : ''}`);
  return { files, enabled: true };
}

export async function uninstallStartup(settings: Settings, options: StartupOptions, report: Reporter): Promise<StartupFiles> {
  const files = startupFiles(settings, options);
  if (systemdRunning() && existsSync(files.unit)) {
    try {
      systemctl(options, 'disable', `${files.name}.service`);
    } catch {
      report.warn(`systemctl disable ${files.name} failed; removing the files anyway`);
    }
  }
  await rm(files.unit, { force: true });
  await rm(files.environment, { force: true });
  if (systemdRunning()) systemctl(options, 'daemon-reload');
  report.done(`removed ${files.unit}`);
  return files;
}

/**
 * Who a system unit runs as: --user-name, else the current user, else (as
 * root under sudo) the user who ran sudo. Root only with --allow-root: a
 * unit written by `sudo bin/startup install` would otherwise run the site
 * and every agent as root. The PM2_HOME of another user is in their home,
 * unless PM2_HOME is set.
 */
export function unitUser(options: StartupOptions, env: NodeJS.ProcessEnv = process.env): { name: string; pm2Home: string } {
  const current = os.userInfo();
  if (options.mode === 'user') return { name: current.username, pm2Home: pm2Home(env) };
  const sudoUser = env.SUDO_USER && env.SUDO_USER !== 'root' ? env.SUDO_USER : undefined;
  const name = options.userName ?? (current.uid !== 0 ? current.username : sudoUser ?? 'root');
  if ((name === 'root' || (name === current.username && current.uid === 0)) && !options.allowRoot) throw errors.rootUnit();
  if (name === current.username || env.PM2_HOME) return { name, pm2Home: pm2Home(env) };
  const home = homeOf(name);
  if (!home) throw errors.usage(`bin/startup: there is no user ${name} on this machine.`, 'Name an existing user with --user-name NAME.');
  return { name, pm2Home: path.join(home, '.pm2') };
}

/** A user's home folder from /etc/passwd. */
function homeOf(name: string): string | undefined {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((entry) => entry.split(':')[0] === name);
  return line?.split(':')[5] || undefined;
}

/** systemd is PID 1 exactly when this folder exists (sd_booted). */
export function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

function systemctl(options: StartupOptions, ...args: string[]): void {
  execFileSync('systemctl', [...(options.mode === 'user' ? ['--user'] : []), ...args], { stdio: 'inherit' });
}

/**
 * The kit's settings as the unit's EnvironmentFile: those set now, with the
 * paths made absolute (the unit runs from another working directory), and
 * LOGS_DIR always.
 */
function environmentFile(settings: Settings): string {
  const explicit = explicitSettings();
  const paths: Record<string, string> = {
    SITE_DIR: settings.siteDir,
    AGENTS_CONFIG: settings.agentsConfig,
    SCHEDULER_CONFIG: settings.schedulerConfig,
    AUDIO_INBOX: settings.audioInbox,
    AUDIO_LIBRARY: settings.audioLibrary,
  };
  const values: Record<string, string> = { ...explicit, LOGS_DIR: settings.logsDir };
  for (const [name, resolved] of Object.entries(paths)) if (name in explicit) values[name] = resolved;
  const quote = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return `# The kit's settings for its boot unit (bin/startup install wrote it).\n${Object.entries(values)
    .map(([name, value]) => `${name}=${quote(value)}`)
    .join('\n')}\n`;
}
