export { KitError, describe, errors, isKitError } from './errors.js';
export { appLogFiles, kitRoot, logPaths, pm2Home } from './paths.js';
export { commandLine, isAlive, listeningPid, startTicks } from './processes.js';
export { readSettings, workerEnv, type Settings } from './settings.js';
export { silentReporter, type Reporter } from './report.js';
