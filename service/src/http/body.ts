import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { ApiError } from '../lib/errors.js';

/**
 * The request body as bytes, at most `maxBytes` (else 413 payload_too_large). On
 * @hono/node-server (c.env.incoming) it is read straight from Node's IncomingMessage into one
 * buffer sized by Content-Length: 0.25–0.47x the CPU of c.req.raw.arrayBuffer(), which goes
 * through a web ReadableStream, for a 1.1 MB webhook batch (`npm run bench -- hotpath`, part D).
 * A larger declared Content-Length is refused before anything is read; a chunked body as soon as
 * it passes the limit, and its connection is closed once the 413 is sent (the rest is never read).
 * Elsewhere (app.request in tests, other runtimes) the web body is read and checked the same way.
 */
export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new ApiError('payload_too_large', `body is larger than ${maxBytes} bytes`);
  const declared = Number(c.req.header('content-length') ?? Number.NaN);
  const chunked = c.req.header('transfer-encoding') !== undefined;
  if (!chunked && Number.isSafeInteger(declared) && declared > maxBytes) throw tooLarge();
  const node = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
  if (!node?.incoming) {
    const bytes = new Uint8Array(await c.req.raw.arrayBuffer());
    if (bytes.length > maxBytes) throw tooLarge();
    return bytes;
  }
  const req = node.incoming;
  if (req.readableEnded) throw new Error('the request body was already read');
  const initial = !chunked && Number.isSafeInteger(declared) && declared >= 0 ? declared : 64 * 1024;
  return new Promise<Uint8Array>((resolve, reject) => {
    let buf = Buffer.allocUnsafe(initial);
    let n = 0;
    const done = (e?: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (e) reject(e);
      else resolve(new Uint8Array(buf.buffer, buf.byteOffset, n));
    };
    const onData = (chunk: Buffer) => {
      if (n + chunk.length > maxBytes) {
        req.pause();
        // the unread rest is not drained: the connection ends with the 413
        node.outgoing?.once('finish', () => req.destroy());
        return done(tooLarge());
      }
      if (n + chunk.length > buf.length) {
        const grown = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(buf.length * 2, n + chunk.length)));
        buf.copy(grown, 0, 0, n);
        buf = grown;
      }
      chunk.copy(buf, n);
      n += chunk.length;
    };
    const onEnd = () => done();
    const onError = (e: Error) => done(e);
    const onAborted = () => done(new Error('client closed the connection while sending its body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
