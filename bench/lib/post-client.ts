/**
 * The client of hotpath.ts part D, a child process (so its CPU is not the server's): on each
 * message { url, n }, POSTs the body n times over one keep-alive connection, then answers 'done'.
 */
import { request, Agent } from 'node:http';

const size = Number(process.argv[2]);
const body = Buffer.alloc(size, 'a');
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

const post = (url: string) =>
  new Promise<void>((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-length': String(body.length), 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });

process.on('message', async (m: { url: string; n: number } | 'exit') => {
  if (m === 'exit') process.exit(0);
  for (let i = 0; i < m.n; i++) await post(m.url);
  process.send!('done');
});
process.send!('ready');
