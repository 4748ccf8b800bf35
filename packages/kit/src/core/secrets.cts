// Secrets (the publish token, Redis credentials, an operator password) never
// travel through the environment PM2 keeps: PM2 copies the starting shell's
// whole environment into each app's env and `pm2 save` writes that to
// PM2_HOME/dump.pm2 in plain text. The kit keeps them instead in
// LOGS_DIR/run/secrets.json (mode 600, folder 700), and readSettings falls
// back to that file when a variable is not set.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The variables kept out of PM2's environment. */
export const secretNames = ['EVENTS_TOKEN', 'REDIS_URL', 'OPERATOR_PASSWORD'] as const;

type Env = Record<string, string | undefined>;

export function secretsFile(logsDir: string): string {
  return path.join(logsDir, 'run', 'secrets.json');
}

/** What secrets.json holds; nothing when it is missing or unreadable (then the environment is all there is). */
export function readSecrets(logsDir: string): Record<string, string> {
  try {
    const parsed = JSON.parse(readFileSync(secretsFile(logsDir), 'utf8')) as Record<string, unknown>;
    return Object.fromEntries(secretNames.filter((name) => typeof parsed[name] === 'string' && parsed[name] !== '').map((name) => [name, parsed[name] as string]));
  } catch {
    return {};
  }
}

/** The secrets set in `env`. */
export function secretsIn(env: Env): Record<string, string> {
  return Object.fromEntries(secretNames.filter((name) => env[name]?.trim()).map((name) => [name, env[name]!.trim()]));
}

/**
 * Records the secrets set in `env` in secrets.json, over what it held: a later
 * command from a shell without them (a cron deploy) keeps them, and so the
 * workers keep the token their clients use. Written whole (temporary file,
 * then rename), mode 600 in a folder of mode 700. Nothing to record: untouched.
 */
export function keepSecrets(env: Env, logsDir: string): void {
  const given = secretsIn(env);
  if (Object.keys(given).length === 0) return;
  const kept = readSecrets(logsDir);
  if (Object.entries(given).every(([name, value]) => kept[name] === value)) return;
  const file = secretsFile(logsDir);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // LOGS_DIR/run may predate this file with a looser mode: it also holds sessions and locks, readable by no one else.
  chmodSync(path.dirname(file), 0o700);
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(temporary, `${JSON.stringify({ ...kept, ...given }, null, 2)}\n`, { mode: 0o600 });
    renameSync(temporary, file);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Never created.
    }
    throw error;
  }
}

/**
 * Moves the secrets out of this process's environment into secrets.json,
 * before anything talks to PM2: the daemon it may spawn and every app it
 * starts inherit this environment. readSettings still finds them (the file).
 */
export function hideSecrets(env: Env, logsDir: string): void {
  keepSecrets(env, logsDir);
  for (const name of secretNames) delete env[name];
}

/** `env` with the secrets it lacks taken from secrets.json (what a worker, agent or later command sees). */
export function withSecrets(env: Env, logsDir: string): Env {
  const missing = secretNames.filter((name) => !env[name]?.trim());
  if (missing.length === 0) return env;
  const kept = readSecrets(logsDir);
  const added = Object.fromEntries(missing.filter((name) => kept[name]).map((name) => [name, kept[name]]));
  return Object.keys(added).length === 0 ? env : { ...env, ...added };
}
