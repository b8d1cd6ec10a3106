/**
 * People through the admin API (as an operator would). Without LiteLLM (ingestion scenario) their
 * key hashes are written straight in the DB; with the LiteLLM fake (latency scenario) every person
 * gets a real key from the fake, whose plaintext `POST /api/users` returns once.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from './db.js';
import type { Person } from './events.js';

export async function call(url: string, init: RequestInit & { expect: number }) {
  let r = await fetch(url, init);
  for (let tries = 0; r.status === 429 && tries < 20; tries++) { // rate limited: wait as told
    await r.text();
    await new Promise((res) => setTimeout(res, 1000 * Number(r.headers.get('retry-after') ?? 1)));
    r = await fetch(url, init);
  }
  const text = await r.text();
  if (r.status !== init.expect) throw new Error(`${init.method ?? 'GET'} ${url} → ${r.status}: ${text.slice(0, 300)}`);
  return { res: r, body: JSON.parse(text) as Record<string, unknown> };
}

export async function apiToken(base: string, password: string): Promise<string> {
  const login = await call(`${base}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'admin@example.com', password }),
    expect: 200,
  });
  const cookies = new Map(login.res.headers.getSetCookie().map((c) => {
    const [kv] = c.split(';');
    const i = kv!.indexOf('=');
    return [kv!.slice(0, i), kv!.slice(i + 1)] as const;
  }));
  const session = cookies.get('tcc_session'), csrf = cookies.get('tcc_csrf');
  if (!session || !csrf) throw new Error('login did not set tcc_session and tcc_csrf');
  const tok = await call(`${base}/api/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: `tcc_session=${session}; tcc_csrf=${csrf}`, 'x-csrf-token': csrf },
    body: JSON.stringify({ name: 'bench', role: 'admin' }),
    expect: 201,
  });
  return String(tok.body.token);
}

export async function seedPeople(base: string, password: string, sql: Sql, count: number, inFlight = 20): Promise<Person[]> {
  const token = await apiToken(base, password);
  const people: Person[] = new Array(count);
  let next = 0;
  const tag = randomBytes(3).toString('hex');
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) {
      const i = next++;
      const { body } = await call(`${base}/api/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ email: `person${i}.${tag}@bench.example.com`, name: `Bench Person ${i}`, plan: 'pro' }),
        expect: 201,
      });
      const key = body.key as { alias?: string; keyAlias?: string } | null;
      people[i] = { userId: String(body.id), keyHash: '', keyAlias: key?.alias ?? key?.keyAlias ?? '' };
    }
  }));
  // No LiteLLM here: give every key the sha256 of a made-up plaintext, as LiteLLM would.
  for (const p of people) p.keyHash = createHash('sha256').update(`sk-${randomBytes(16).toString('base64url')}`).digest('hex');
  const rows = people.map((p) => [p.userId, p.keyHash]);
  await sql`update keys set token_hash = v.hash, status = 'active'
    from (values ${sql(rows)}) as v(user_id, hash) where keys.user_id = v.user_id`;
  const aliases = await sql<{ user_id: string; key_alias: string }[]>`select user_id, key_alias from keys where token_hash is not null`;
  const byUser = new Map(aliases.map((a) => [a.user_id, a.key_alias]));
  for (const p of people) p.keyAlias = byUser.get(p.userId) ?? p.keyAlias;
  if (aliases.length !== count) throw new Error(`expected ${count} active keys, found ${aliases.length}`);
  return people;
}

export interface KeyedPerson extends Person {
  email: string;
  /** The LiteLLM key's plaintext, as returned once by `POST /api/users` (the fake stores its sha256). */
  plaintext: string;
}

/** People with real LiteLLM keys (the service must have LITELLM_URL); creation spread over `bases`. */
export async function createPeopleWithKeys(bases: string[], token: string, count: number, opts: { plan: string; inFlight?: number }): Promise<KeyedPerson[]> {
  const people: KeyedPerson[] = new Array(count);
  let next = 0;
  const tag = randomBytes(3).toString('hex');
  await Promise.all(Array.from({ length: opts.inFlight ?? 20 }, async () => {
    while (next < count) {
      const i = next++;
      const email = `person${i}.${tag}@bench.example.com`;
      const { body } = await call(`${bases[i % bases.length]}/api/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ email, name: `Bench Person ${i}`, plan: opts.plan, locale: 'en' }),
        expect: 201,
      });
      const key = body.key as { plaintext?: string; alias?: string; keyAlias?: string } | null;
      if (!key?.plaintext) throw new Error(`POST /api/users gave no key plaintext for person ${i} (is LiteLLM reachable?)`);
      people[i] = {
        userId: String(body.id),
        email,
        plaintext: key.plaintext,
        keyHash: createHash('sha256').update(key.plaintext).digest('hex'),
        keyAlias: key.alias ?? key.keyAlias ?? '',
      };
    }
  }));
  return people;
}
