import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The "everyday commands" start prints, as this repo can run them: its own
 * `bin/` front where it has one (this reference repo has `bin/status` and
 * `bin/mh`; `init` writes only `bin/start-pm2` and `bin/stop-pm2`), else
 * `pnpm exec astro-cluster …`; and the ecosystem file it has (`.cjs` in a
 * "type": "module" package).
 */
export function everydayCommands(root: string, app: string, ecosystemFile: string): string {
  const front = (bin: string, args: string, kitCommand: string) =>
    existsSync(path.join(root, 'bin', bin)) ? `./bin/${bin}${args}` : `pnpm exec astro-cluster ${kitCommand}`;
  const rows: [string, string][] = [
    ['pnpm exec pm2 ls', 'list the workers'],
    [`pnpm exec pm2 logs ${app}`, 'follow the logs'],
    [`pnpm exec pm2 reload ${path.basename(ecosystemFile)}`, 'zero-downtime reload'],
    [front('status', '', 'status'), 'is it healthy? workers, agents, build'],
    [front('mh', ' status', 'agents status'), 'the agents: state, pid, restarts'],
    [front('start-pm2', '', 'start'), 'rebuild when needed, then reload'],
    [front('stop-pm2', '', 'stop'), 'stop the kit (web and agents)'],
  ];
  const width = Math.max(...rows.map(([command]) => command.length)) + 2;
  return ['Everyday commands:', ...rows.map(([command, what]) => `  ${command.padEnd(width)}${what}`)].join('\n');
}
