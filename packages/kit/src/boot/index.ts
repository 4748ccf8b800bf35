export { boot, halt, type Booted } from './boot.js';
export { installStartup, startupFiles, uninstallStartup, unitFor, unitUser, type StartupFiles, type StartupOptions } from './install.js';
export { renderUnit, type UnitOptions } from './unit.js';
