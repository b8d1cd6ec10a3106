import { existsSync } from 'node:fs';
import net from 'node:net';
import postgres from 'postgres';

/** How postgres.js reaches the server: options to spread into postgres(url, …), and what was chosen. */
export interface Transport {
  kind: 'unix-socket' | 'tcp';
  /** Why this transport (for the start-up log line). */
  detail: string;
  options: Record<string, unknown>;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
/** Where Debian/Ubuntu, other distributions and the PostgreSQL default put the socket. */
const SOCKET_DIRS = ['/var/run/postgresql', '/run/postgresql', '/tmp'];

/**
 * Only for a DATABASE_URL naming this machine (localhost, 127.0.0.1, ::1; one host): with `auto`
 * (DATABASE_UNIX_SOCKET; default off), when a PostgreSQL socket for its port exists in a standard directory and
 * a test connection through it with the URL's credentials succeeds, connect through the Unix
 * socket (no TCP stack for the ~0.5 MB booking statement of every batch); else (no socket, or one
 * the URL's user may not use, e.g. `peer` authentication for another OS user, or `off`) TCP to
 * that host with TCP_NODELAY, so the last segment of a large statement never waits for the
 * server's delayed ACK (Nagle). A remote or multi-host URL is left exactly as postgres.js
 * connects it.
 */
export async function chooseTransport(url: string, mode: 'auto' | 'off' = 'off'): Promise<Transport> {
  const u = new URL(url);
  const port = Number(u.port || 5432);
  const multiHost = u.host.includes(',');
  if (multiHost || !LOCAL_HOSTS.has(u.hostname)) return { kind: 'tcp', detail: 'remote: TCP as postgres.js connects', options: {} };
  // Off by default: on the bench host it gave no measurable gain (issue 17), and a connection
  // handed to postgres.js is a path of our own through every outage.
  if (mode === 'off') return { kind: 'tcp', detail: 'DATABASE_UNIX_SOCKET=off: TCP as postgres.js connects', options: {} };
  const path = SOCKET_DIRS.map((d) => `${d}/.s.PGSQL.${port}`).find((p) => existsSync(p));
  if (!path) return tcp(u, port, 'no local socket');
  const why = await probe(url, path);
  return why === null ? { kind: 'unix-socket', detail: path, options: { path } } : tcp(u, port, `Unix socket ${path} refused: ${why}`);
}

function tcp(u: URL, port: number, why: string): Transport {
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  // postgres.js takes a socket per connection (and does TLS on it when the URL asks). Handed over
  // while still connecting: writes wait for the connection, and a failed connect arrives as the
  // socket's error/close events, which postgres.js answers with its usual reconnect (a rejected
  // promise here would leave that pool connection stuck for good). host: the TLS server name.
  const socket = () => Object.assign(net.connect({ host, port, noDelay: true }), { host, port });
  return { kind: 'tcp', detail: `${host}:${port} with TCP_NODELAY (${why})`, options: { socket } };
}

async function probe(url: string, path: string): Promise<string | null> {
  const client = postgres(url, { max: 1, path, connect_timeout: 3, onnotice: () => {} });
  try {
    await client`select 1`;
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await client.end({ timeout: 1 }).catch(() => {});
  }
}
