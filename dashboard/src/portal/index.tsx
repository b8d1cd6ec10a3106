import { render } from 'solid-js/web';
import { PortalApp } from './PortalApp';
import './portal.css';

/** Mounted by the entry for /me paths: the portal is its own lazy chunk. */
export function mountPortal(root: HTMLElement) {
  document.title = 'Token Credits · Portal';
  render(() => <PortalApp />, root);
}
