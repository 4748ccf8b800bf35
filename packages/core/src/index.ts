export { KitError, describe, errors, isKitError } from './errors.js';
export { appLogFiles, kitRoot, logPaths, pm2Home } from './paths.js';
export { commandLine, isAlive, listeningPid, pidsHolding, startTicks } from './processes.js';
export { explicitSettings, readSettings, workerEnv, type Settings } from './settings.js';
export { silentReporter, type Reporter } from './report.js';
export { tailLines } from './log-tail.js';
export { matchingFiles, writeFileAtomic } from './files.js';
export { pollUntil, type PollOptions } from './poll.js';
