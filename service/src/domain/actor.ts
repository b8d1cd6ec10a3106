import type { Role } from '../db/schema/index.js';

/** Who is acting: an admin (by session or API token) or the service itself. */
export interface Actor {
  id: string;
  label: string;
  role: Role;
  via: 'session' | 'token' | 'system';
}

export const SYSTEM_ACTOR: Actor = { id: 'system', label: 'system', role: 'admin', via: 'system' };

export interface RequestMeta {
  requestId?: string;
  ip?: string;
}
