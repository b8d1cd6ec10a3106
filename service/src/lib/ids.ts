import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lowercase

function base32(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

/** Prefixed random id, e.g. usr_3k9v0q2m7c1x8p4d. */
export function newId(prefix: string): string {
  return `${prefix}_${base32(randomBytes(16))}`;
}

/** A secret token with a recognisable prefix (256 bits of entropy). */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}
