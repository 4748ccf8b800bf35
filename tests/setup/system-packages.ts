import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian packages the suite drives for real: a browser for Playwright, a Redis server for the multi-host backend, nginx as the proxy in front of several hosts. */
const needed = [
  { binary: '/usr/bin/chromium', pkg: 'chromium' },
  { binary: '/usr/bin/redis-server', pkg: 'redis-server' },
  { binary: '/usr/sbin/nginx', pkg: 'nginx' },
];

/**
 * Installs what is missing with apt-get when running as root (CI, a fresh
 * machine), or says exactly what to install. Playwright never downloads a
 * browser here: it drives Debian's Chromium.
 */
export function ensureSystemPackages(): void {
  const missing = needed.filter(({ binary }) => !existsSync(binary)).map(({ pkg }) => pkg);
  if (missing.length === 0) return;
  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`the tests need ${missing.join(' and ')}: run \`sudo apt-get update && sudo ${command}\``);
  }
  console.log(`▸ installing ${missing.join(', ')} (${command})`);
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}
