export { buildState, type BuildState, type Release } from './build.js';
export { buildTried, deploy, rollback, switchTo, withReleasesLock, type DeployResult } from './deploy.js';
export { listReleases } from './releases.js';
export { currentLink, historyFile, releasesDir, siteRoot } from './site-paths.js';
