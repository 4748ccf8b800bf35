import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errors, readSettings } from '../../core/index.cjs';
import { hostList } from '../../hosts/host-list.js';
import { nginxConfig } from '../../proxy/index.js';
import { parseCommandArgs } from '../args.js';
import { runCommand } from '../output.js';

const help = `Usage: astro-cluster proxy nginx [--out FILE] [--main]

Writes an nginx configuration for the hosts of astro-cluster.config.json
(\`hosts\`, \`proxy\`): one upstream of every host with the web role, passive
health checks (max_fails, fail_timeout; a 503 counts on the health path
only), idempotent requests retried on the next host (proxy_next_upstream),
streams unbuffered, HTTP/1.1 keep-alive to
the hosts, X-Forwarded-For/-Proto/-Host set. Check it with \`nginx -t\`.

  --out FILE   write it there (default: print it)
  --main       a whole nginx.conf for \`nginx -p DIR -c DIR/nginx.conf\`
               (pid, logs, temporary files under DIR), instead of the
               upstream and server for /etc/nginx/sites-available/
  -h, --help   show this help

docs/multi-host.md puts it in place on Debian's nginx.`;

await runCommand(async () => {
  const { values, positionals } = parseCommandArgs(
    'astro-cluster proxy',
    process.argv.slice(2),
    {
      out: { type: 'string' },
      main: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    true,
  );
  if (values.help) return void console.log(help);
  if (positionals.length !== 1 || positionals[0] !== 'nginx') throw errors.usage('astro-cluster proxy: say which proxy (nginx)', 'Run astro-cluster proxy --help for usage.');
  const settings = readSettings();
  const hosts = hostList(settings).filter((host) => host.roles.includes('web'));
  if (hosts.length === 0) throw errors.noProxyHosts();
  const text = nginxConfig({
    hosts,
    listen: settings.proxyListen,
    serverName: settings.proxyServerName,
    failTimeoutS: settings.proxyFailTimeoutS,
    healthPath: settings.healthPath,
    keepAliveTimeoutMs: settings.keepAliveTimeoutMs,
    main: values.main,
  });
  if (!values.out) return void process.stdout.write(text);
  const file = path.resolve(values.out);
  await mkdir(path.dirname(file), { recursive: true });
  // nginx makes the last folder of each temporary path, not its parent.
  if (values.main) await mkdir(path.join(path.dirname(file), 'tmp'), { recursive: true });
  await writeFile(file, text);
  console.log(`✓ wrote ${file} for ${hosts.map((host) => `${host.name} (${host.url.host})`).join(', ')}`);
});
