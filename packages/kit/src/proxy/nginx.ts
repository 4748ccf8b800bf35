import type { HostEntry } from '../hosts/host-list.js';

export interface NginxOptions {
  /** The hosts with the web role, in order. */
  hosts: Pick<HostEntry, 'name' | 'url'>[];
  /** `listen` of the server: a port, or address:port. */
  listen: string;
  serverName: string;
  /** fail_timeout of each upstream server, in seconds: how long a host that failed is left out. */
  failTimeoutS: number;
  /** The kit's health path (web.healthPath): the one location where a 503 counts as a failed host. */
  healthPath: string;
  /** The kit's KEEP_ALIVE_TIMEOUT_MS: nginx must close an idle upstream connection before the worker does. */
  keepAliveTimeoutMs: number;
  /** A whole nginx.conf for `nginx -p DIR -c DIR/nginx.conf` (pid, logs and temporary files under that prefix), instead of the server and upstream for Debian's sites-available/. */
  main: boolean;
}

/**
 * An nginx configuration for the hosts of the config file: one upstream of
 * their web clusters, one server that proxies everything to it. What each
 * line is for is said beside it, in the file, for whoever reads it on the
 * proxy. Pure: the command writes it, the tests check it with `nginx -t`.
 */
export function nginxConfig(options: NginxOptions): string {
  const { hosts } = options;
  // Below the workers' keep-alive timeout, whole seconds, at least 1.
  const idleS = Math.max(1, Math.floor(options.keepAliveTimeoutMs / 1000) - 1);
  const upstreamName = 'astro_cluster';
  const scheme = hosts.some((host) => host.url.protocol === 'https:') ? 'https' : 'http';
  const site = `# Written by \`astro-cluster proxy nginx\` from astro-cluster.config.json (hosts,
# proxy, web): run it again rather than edit this file.

upstream ${upstreamName} {
    # Open-source nginx checks hosts passively: a host whose connection fails
    # or times out, or that answers 502/504 (503 on the health path), is left
    # out for fail_timeout, then tried again (proxy_next_upstream below). It
    # does not poll the health path itself; a host taken out of rotation
    # (503 there, during deploy --hosts) keeps getting requests and serves
    # them: its reload drains gracefully, worker by worker. nginx Plus
    # (health_check), HAProxy and Caddy poll it: docs/multi-host.md.
${hosts.map((host) => `    server ${host.url.host} max_fails=1 fail_timeout=${options.failTimeoutS}s;  # ${host.name}`).join('\n')}

    # Connections to the hosts are kept open and reused (HTTP/1.1 below),
    # closed by nginx after ${idleS} s idle: before the workers close them
    # (KEEP_ALIVE_TIMEOUT_MS ${options.keepAliveTimeoutMs} ms), so nginx never sends on a socket
    # the other side is closing.
    keepalive 32;
    keepalive_timeout ${idleS}s;
}

server {
    listen ${options.listen};
    server_name ${options.serverName};

    # nginx ends a client's keep-alive connection after this many requests
    # (1000 by default), with Connection: close on the last answer. A client
    # that has already sent its next request on that connection is reset:
    # measured with autocannon, about once in a few hundred such closes.
    # Fewer closes, fewer resets; the memory nginx frees at each is small.
    keepalive_requests 10000;

    proxy_http_version 1.1;
    proxy_set_header Connection "";

    # The workers answer only the names in SITE_HOSTS (web.hosts): list the
    # public name there. They believe X-Forwarded-For and -Proto only from
    # web.trustedProxies: list this proxy's address there.
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $host;

    # A request that cannot reach a host (refused, reset, timed out), or gets
    # 502/504, is sent to the next host, and the host is left out for
    # fail_timeout. nginx never resends a non-idempotent request (POST,
    # PATCH) once a host received it (no "non_idempotent" here), so a task is
    # never posted twice; a refused connection is retried, since that host
    # received nothing. A 503 from the site is passed on as it is (a session
    # store or event log that is away, a worker full of streams, with
    # Retry-After): every host would say the same, and counting it as a
    # failure would leave out hosts that serve pages.
    proxy_next_upstream error timeout http_502 http_504;
    proxy_next_upstream_tries ${hosts.length};
    proxy_next_upstream_timeout 15s;
    proxy_connect_timeout 2s;

    # Server-Sent Events go out as the workers write them: no buffering.
    # A stream idles between events, but the kit sends a heartbeat comment
    # at least every 15 s (SSE_HEARTBEAT_MS), so a read timeout well above
    # that never cuts a live stream, and still ends a request that hangs.
    proxy_buffering off;
    proxy_cache off;
    proxy_read_timeout 120s;
    proxy_send_timeout 60s;

    # The health path answers 503 while its host is out of rotation (deploy
    # --hosts): here, and only here, a 503 moves the request to the next
    # host and leaves that host out for fail_timeout. A monitor that polls
    # this path through nginx every second or two turns nginx's passive
    # check into an active one.
    location = ${options.healthPath} {
        proxy_pass ${scheme}://${upstreamName};
        proxy_next_upstream error timeout http_502 http_503 http_504;
    }

    location / {
        proxy_pass ${scheme}://${upstreamName};
    }
}
`;
  if (!options.main) return site;
  return `# A whole nginx.conf, for: nginx -p PREFIX -c PREFIX/nginx.conf
# (pid, logs and temporary files under PREFIX).
worker_processes 1;
pid nginx.pid;
error_log error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path tmp/client-body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;

${site
  .trimEnd()
  .split('\n')
  .map((line) => (line ? `    ${line}` : line))
  .join('\n')}
}
`;
}
