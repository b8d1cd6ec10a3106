import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CapturedMail {
  from: string;
  to: string | string[];
  subject: string;
  text: string;
  html: string;
  idempotencyKey: string | undefined;
}

/**
 * A local stand-in for Resend's HTTP API (POST /emails), for the real Resend SDK pointed at it
 * with RESEND_BASE_URL. Honours Idempotency-Key like Resend: a repeated key returns the first id.
 */
export async function startResendCapture() {
  const mails: CapturedMail[] = [];
  const byKey = new Map<string, string>();
  let failNext = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method !== 'POST' || req.url !== '/emails') {
        res.statusCode = 404;
        return res.end(JSON.stringify({ name: 'not_found', message: 'not found', statusCode: 404 }));
      }
      if (failNext > 0) {
        failNext--;
        res.statusCode = 500;
        return res.end(JSON.stringify({ name: 'internal_server_error', message: 'injected', statusCode: 500 }));
      }
      const key = req.headers['idempotency-key'] as string | undefined;
      if (key && byKey.has(key)) return res.end(JSON.stringify({ id: byKey.get(key) }));
      const mail = JSON.parse(body) as CapturedMail;
      mails.push({ ...mail, idempotencyKey: key });
      const id = `re_${mails.length}`;
      if (key) byKey.set(key, id);
      res.end(JSON.stringify({ id }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mails,
    failNext: (n: number) => {
      failNext = n;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
