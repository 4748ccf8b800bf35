import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';
import { KitError, readSettings } from 'astro-cluster-kit/core';
import { hostList, hostRefreshMs, nginxConfig, webHosts } from 'astro-cluster-kit/hosts';
import { TrustedProxies } from 'astro-cluster-kit/server';

/** A request as a worker sees it: the socket's address and the headers. */
function req(remoteAddress: string, headers: Record<string, string> = {}, encrypted = false): IncomingMessage {
  return { socket: { remoteAddress, encrypted }, headers } as unknown as IncomingMessage;
}

test('trusted proxies: addresses, CIDRs, loopback, IPv4-mapped IPv6', () => {
  const proxies = new TrustedProxies(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', 'loopback']);
  for (const address of ['10.1.2.3', '::ffff:10.200.0.1', '192.168.1.7', '127.0.0.1', '127.9.9.9', '::1', '2001:db8:1::5', '::ffff:127.0.0.1'])
    assert.ok(proxies.trusts(address), address);
  for (const address of ['11.0.0.1', '192.168.1.8', '::2', '2001:db9::1', 'garbage', '', '::ffff:192.168.1.6'])
    assert.ok(!proxies.trusts(address), address);
  assert.ok(new TrustedProxies(['172.16.0.0/12']).trusts('172.31.255.255'));
  assert.ok(!new TrustedProxies(['172.16.0.0/12']).trusts('172.32.0.0'));
  assert.ok(new TrustedProxies(['0.0.0.0/0']).trusts('8.8.8.8'));
  assert.ok(!new TrustedProxies([]).trusts('127.0.0.1'), 'an empty list trusts nobody');
});

test('the client address: X-Forwarded-For only from a trusted proxy, the right-most untrusted entry', () => {
  const proxies = new TrustedProxies(['10.0.0.1', '10.0.0.2']);
  assert.equal(proxies.clientAddress(req('203.0.113.9', { 'x-forwarded-for': '1.2.3.4' })), '203.0.113.9', 'forged from an untrusted address: ignored');
  assert.equal(proxies.clientAddress(req('10.0.0.1', { 'x-forwarded-for': '1.2.3.4' })), '1.2.3.4');
  // The client wrote the left part itself; the proxies appended the rest.
  assert.equal(proxies.clientAddress(req('10.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.4, 10.0.0.2' })), '198.51.100.4');
  assert.equal(proxies.clientAddress(req('10.0.0.1', { 'x-forwarded-for': '10.0.0.2' })), '10.0.0.2', 'all trusted: the left-most');
  assert.equal(proxies.clientAddress(req('10.0.0.1')), '10.0.0.1', 'no header: the socket');
  assert.equal(proxies.clientAddress(req('10.0.0.1', { 'x-forwarded-for': 'not-an-ip' })), '10.0.0.1');
});

test('the protocol: X-Forwarded-Proto only from a trusted proxy, TLS always', () => {
  const proxies = new TrustedProxies(['loopback']);
  assert.equal(proxies.protocol(req('127.0.0.1', { 'x-forwarded-proto': 'https' })), 'https');
  assert.equal(proxies.protocol(req('127.0.0.1', { 'x-forwarded-proto': 'HTTPS, http' })), 'https');
  assert.equal(proxies.protocol(req('192.0.2.1', { 'x-forwarded-proto': 'https' })), 'http', 'forged: ignored');
  assert.equal(proxies.protocol(req('192.0.2.1', {}, true)), 'https');
  assert.equal(new TrustedProxies([]).protocol(req('127.0.0.1', { 'x-forwarded-proto': 'https' })), 'http');
});

/** A project whose config file is `config`; removed after `body`. */
function withConfig<T>(config: unknown, body: (root: string) => T, env: Record<string, string> = {}): T {
  const root = mkdtempSync(path.join(os.tmpdir(), 'kit-hosts-'));
  try {
    writeFileSync(path.join(root, 'astro-cluster.config.json'), JSON.stringify(config));
    return body(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const settingsOf = (root: string, env: Record<string, string> = {}) => readSettings({ ASTRO_CLUSTER_ROOT: root, ...env });

test('roles, host name and trusted proxies: config, environment, defaults, mistakes', () => {
  withConfig({}, (root) => {
    const settings = settingsOf(root);
    assert.deepEqual(settings.roles, ['web', 'agents']);
    assert.deepEqual(settings.trustedProxies, ['loopback']);
    assert.equal(settings.hostName, os.hostname());
    assert.deepEqual(settingsOf(root, { ASTRO_CLUSTER_ROLES: 'web' }).roles, ['web']);
    assert.deepEqual(settingsOf(root, { TRUSTED_PROXIES: 'none' }).trustedProxies, []);
    assert.throws(() => settingsOf(root, { ASTRO_CLUSTER_ROLES: 'web,db' }), (error: KitError) => error.code === 'KIT_INVALID_SETTINGS' && /ASTRO_CLUSTER_ROLES/.test(error.message));
    assert.throws(() => settingsOf(root, { TRUSTED_PROXIES: '10.0.0.0/33' }), /TRUSTED_PROXIES/);
    // A host record's time to live, rewritten every third of it.
    assert.equal(settings.hostTtlS, 30);
    assert.equal(hostRefreshMs(settings), 10_000);
    assert.equal(hostRefreshMs(settingsOf(root, { HOST_TTL_S: '3' })), 1000);
    assert.throws(() => settingsOf(root, { HOST_TTL_S: '2' }), /HOST_TTL_S/);
  });
  withConfig({ roles: ['agents'], hostName: 'b', web: { trustedProxies: ['10.0.0.5', '10.1.0.0/16'] } }, (root) => {
    const settings = settingsOf(root);
    assert.deepEqual(settings.roles, ['agents']);
    assert.equal(settings.hostName, 'b');
    assert.deepEqual(settings.trustedProxies, ['10.0.0.5', '10.1.0.0/16']);
  });
});

test('hosts: checked, local folders resolved, web hosts chosen by name', () => {
  const hosts = [
    { name: 'a', url: 'http://10.0.0.1:4321', ssh: 'deploy@10.0.0.1', dir: '/srv/site' },
    { name: 'b', url: 'http://10.0.0.2:4321', dir: '../b', env: { PM2_HOME: '/tmp/b' } },
    { name: 'jobs', url: 'http://10.0.0.3:4321', roles: ['agents'] },
  ];
  withConfig({ hosts }, (root) => {
    const list = hostList(settingsOf(root));
    assert.deepEqual(list.map((h) => [h.name, h.url.host, h.dir, h.ssh, h.roles.join('+')]), [
      ['a', '10.0.0.1:4321', '/srv/site', 'deploy@10.0.0.1', 'web+agents'],
      ['b', '10.0.0.2:4321', path.resolve(root, '../b'), undefined, 'web+agents'],
      ['jobs', '10.0.0.3:4321', root, undefined, 'agents'],
    ]);
    assert.deepEqual(webHosts(list, undefined).map((h) => h.name), ['a', 'b']);
    assert.deepEqual(webHosts(list, 'b,a').map((h) => h.name), ['b', 'a'], 'in the order asked');
    assert.throws(() => webHosts(list, 'c'), (error: KitError) => error.code === 'KIT_USAGE');
    assert.throws(() => webHosts(list, 'jobs'), /run no web cluster/);
  });
  withConfig({ hosts: [{ name: 'a', url: 'ftp://x' }, { name: 'a', url: 'http://x:1', roles: ['db'], extra: 1 }] }, (root) => {
    assert.throws(
      () => hostList(settingsOf(root)),
      (error: KitError) => error.code === 'KIT_CONFIG_INVALID' && /hosts\[0\]\.url/.test(error.message) && /hosts\[1\]\.roles/.test(error.message) && /hosts\[1\]\.extra/.test(error.message),
    );
  });
});

test('the nginx configuration: every web host, passive checks, retries, streams unbuffered, forwarded headers; nginx -t accepts it', () => {
  const hosts = [
    { name: 'a', url: new URL('http://10.0.0.1:4321') },
    { name: 'b', url: new URL('http://10.0.0.2:4321') },
  ];
  const site = nginxConfig({ hosts, listen: '80', serverName: 'example.org', failTimeoutS: 5, healthPath: '/healthz', keepAliveTimeoutMs: 5000, main: false });
  assert.match(site, /server 10\.0\.0\.1:4321 max_fails=1 fail_timeout=5s;\s+# a/);
  assert.match(site, /server 10\.0\.0\.2:4321 max_fails=1 fail_timeout=5s;\s+# b/);
  assert.match(site, /keepalive_timeout 4s;/, 'idle upstream connections close before the workers close them');
  // A 503 moves a request (and counts against its host) on the health path only: elsewhere it is the site's answer.
  assert.match(site, /location = \/healthz \{\s+proxy_pass http:\/\/astro_cluster;\s+proxy_next_upstream error timeout http_502 http_503 http_504;/);
  assert.match(site, /^    proxy_next_upstream error timeout http_502 http_504;/m);
  assert.match(site, /location \/ \{\s+proxy_pass http:\/\/astro_cluster;\s+\}/);
  assert.doesNotMatch(site, /proxy_next_upstream [^;]*non_idempotent/, "POSTs are never resent");
  assert.match(site, /proxy_next_upstream_tries 2;/);
  assert.match(site, /proxy_buffering off;/);
  assert.match(site, /proxy_http_version 1\.1;\s+proxy_set_header Connection "";/);
  for (const header of ['X-Forwarded-For $proxy_add_x_forwarded_for', 'X-Forwarded-Proto $scheme', 'X-Forwarded-Host $host', 'Host $host']) assert.ok(site.includes(`proxy_set_header ${header};`), header);
  assert.match(site, /server_name example\.org;/);
  assert.match(site, /keepalive_requests 10000;/);

  const prefix = mkdtempSync(path.join(os.tmpdir(), 'kit-nginx-'));
  try {
    const main = nginxConfig({ hosts, listen: '127.0.0.1:8080', serverName: '_', failTimeoutS: 2, healthPath: '/healthz', keepAliveTimeoutMs: 5000, main: true });
    writeFileSync(path.join(prefix, 'nginx.conf'), main);
    mkdirSync(path.join(prefix, 'tmp'));
    assert.ok(existsSync('/usr/sbin/nginx'), 'nginx is installed (tests/setup installs it)');
    const check = spawnSync('/usr/sbin/nginx', ['-t', '-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-e', path.join(prefix, 'error.log')], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stderr, /syntax is ok/);
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
});
