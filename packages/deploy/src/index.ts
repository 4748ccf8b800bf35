export { buildRelease, buildState, type BuildState, type Release } from './build.js';
export { buildTried, deploy, rollback, switchTo, type DeployResult } from './deploy.js';
export { activate, currentRelease, discardRelease, listReleases, previousRelease, pruneReleases } from './releases.js';
export { currentLink, historyFile, releasesDir, siteRoot } from './site-paths.js';
