export { CrashWindow, watches, type CrashPolicy } from './crash-window.js';
export { opsTopic, Pm2Monitor } from './pm2-monitor.js';
export { readMonitorState, requestReset, type AppRecord, type MonitorState, type WorkerSnapshot } from './state.js';
export { kitStatus, type KitStatus, type WorkerStatus } from './status.js';
