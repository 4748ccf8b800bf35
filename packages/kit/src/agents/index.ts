export { agentLogFile } from './agent-log.js';
export { agentsStatus, startAgents, stopAgents, wantedAgents, type AgentStatus, type AgentsStatus, type StartResult, type StopResult } from './control.js';
export { acquireLock, inspectLock, isSameProcess, lockPaths, LockHeldError, type HeldLock, type LockOwner, type LockPaths, type LockState } from './lock.js';
export { loadAgents, pickAgents, supervisorName, type AgentSpec } from './registry.js';
export { afterCrash, crashesInARow, defaultRestartPolicy, type RestartPolicy } from './restart-policy.js';
export { runAgent, type AgentContext } from './runtime.js';
export { createWaker, type Waker } from './waker.js';
export { commandText, firstJsonValue, launcherLog, launcherStatus, readLauncher, runLauncher, type Launcher, type LauncherCommand, type LauncherRun, type LauncherStatus } from './launcher.js';
