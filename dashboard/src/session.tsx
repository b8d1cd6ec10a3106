import { createContext, useContext } from 'solid-js';
import type { Me } from './api/types';

export interface Session {
  me: () => Me;
  isAdmin: () => boolean;
  logout: () => Promise<void>;
}

export const SessionContext = createContext<Session>();

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside <SessionContext.Provider>');
  return s;
}
