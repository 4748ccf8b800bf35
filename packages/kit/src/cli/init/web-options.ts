import { appNamePattern, errors } from '../../core/index.cjs';

// The rules readSettings applies to web.name and web.port (core/settings.cts),
// checked before writing so that init never writes a config the kit then refuses.

/** web.name and web.port for the config file: --name and --port, checked, or the defaults. */
export function webOptions(name: string | undefined, port: string | number | undefined): { name: string; port: number } {
  const problems: string[] = [];
  const chosenName = name ?? 'astro-web';
  if (!appNamePattern.test(chosenName)) problems.push(`--name=${JSON.stringify(chosenName)}: expected letters, digits, ".", "_" or "-", at most 64`);
  const rawPort = String(port ?? '4321').trim();
  const chosenPort = /^\d+$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!(chosenPort >= 1 && chosenPort <= 65535)) problems.push(`--port=${JSON.stringify(rawPort)}: expected a whole number from 1 to 65535`);
  if (problems.length > 0) throw errors.usage(`init: invalid options:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'Run astro-cluster init --help for usage.');
  return { name: chosenName, port: chosenPort };
}
