import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { repoRoot, TestKit } from './kit.js';

export const agentScripts = {
  'scheduler-service': path.join(repoRoot, 'apps', 'agents', 'src', 'scheduler-service.ts'),
  'audio-organizer': path.join(repoRoot, 'apps', 'agents', 'src', 'audio-organizer.ts'),
  'task-runner': path.join(repoRoot, 'apps', 'agents', 'src', 'task-runner.ts'),
  'pm2-monitor': path.join(repoRoot, 'apps', 'agents', 'src', 'pm2-monitor.ts'),
  supervisor: path.join(repoRoot, 'packages', 'kit', 'dist', 'agents', 'supervisor-main.js'),
} as const;

/** Node's arguments to run an agent's script by hand, as the supervisor does: TypeScript through tsx. */
export function agentArgs(script: string): string[] {
  return script.endsWith('.ts') ? ['--import', import.meta.resolve('tsx'), script] : [script];
}

/**
 * Agent kits for one test file, each in its own LOGS_DIR, all cleaned up
 * after the file's tests.
 */
export function agentKits(): (env?: Record<string, string>) => Promise<TestKit> {
  const kits: TestKit[] = [];
  after(async () => {
    for (const kit of kits) await kit.cleanup();
  });
  return async (env = {}) => {
    const kit = await agentsKit(env);
    kits.push(kit);
    return kit;
  };
}

/** A kit for agent tests: a heartbeat every 200 ms so that acting is visible in the log, quick settling for audio. */
export async function agentsKit(env: Record<string, string> = {}): Promise<TestKit> {
  const kit = await TestKit.create({ env: { AUDIO_SETTLE_MS: '300', ...env } });
  const scheduler = path.join(kit.dir, 'scheduler.json');
  writeFileSync(scheduler, JSON.stringify({ jobs: [{ name: 'heartbeat', type: 'heartbeat', every: '200ms' }] }));
  kit.env.SCHEDULER_CONFIG ??= scheduler;
  return kit;
}

export interface LogLine {
  at: number;
  pid: number;
  text: string;
}

/** An agent's log, parsed: `2026-…Z [pid N] text`. */
export function readAgentLog(kit: TestKit, name: string): LogLine[] {
  let text = '';
  try {
    text = readFileSync(path.join(kit.logsDir, 'agents', `${name}.log`), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => /^(\S+Z) \[pid (\d+)\] (.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ at: Date.parse(match[1]!), pid: Number(match[2]), text: match[3]! }));
}

export interface StatusJson {
  supervisor: { state: string; pid: number | null };
  agents: { name: string; kind: string; state: string; pid: number | null; holder?: number; since: string | null; restarts: number; lock: string; detail?: string }[];
}

export async function status(kit: TestKit): Promise<StatusJson> {
  const result = await kit.run('mh', ['status', '--json']);
  if (result.code !== 0) throw new Error(`mh status failed: ${result.output}`);
  return JSON.parse(result.stdout) as StatusJson;
}

export async function agentState(kit: TestKit, name: string) {
  const agent = (await status(kit)).agents.find((a) => a.name === name);
  if (!agent) throw new Error(`no agent ${name} in mh status`);
  return agent;
}
