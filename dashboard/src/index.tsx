import { render } from 'solid-js/web';
import { App } from './app';
import './styles.css';

const root = document.getElementById('root');
const isPortal = location.pathname === '/me' || location.pathname.startsWith('/me/');
if (root) {
  document.documentElement.lang = localStorage.getItem('tcc.locale') ?? 'pt-BR';
  // The self-service portal (/me) is its own lazy chunk; the admin app's initial JS is unchanged.
  if (isPortal) void import('./portal/index').then((m) => m.mountPortal(root));
  else render(() => <App />, root);
}
