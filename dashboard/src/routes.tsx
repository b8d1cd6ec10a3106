import { lazy } from 'solid-js';
import type { RouteDefinition } from '@solidjs/router';

/** One lazily loaded page per route. */
export const routes: RouteDefinition[] = [
  { path: '/', component: lazy(() => import('./pages/Overview')) },
  { path: '/people', component: lazy(() => import('./pages/People')) },
  { path: '/people/:id', component: lazy(() => import('./pages/Person')) },
  { path: '/alerts', component: lazy(() => import('./pages/Alerts')) },
  { path: '/mail', component: lazy(() => import('./pages/Mail')) },
  { path: '/audit', component: lazy(() => import('./pages/Audit')) },
  { path: '/dead-letters', component: lazy(() => import('./pages/DeadLetters')) },
  { path: '/reports', component: lazy(() => import('./pages/Reports')) },
  { path: '/settings', component: lazy(() => import('./pages/Settings')) },
  { path: '/payments', component: lazy(() => import('./pages/Payments')) },
  { path: '*404', component: lazy(() => import('./pages/NotFound')) },
];
