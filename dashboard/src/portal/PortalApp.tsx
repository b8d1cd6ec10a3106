import { createSignal, Match, onMount, Switch } from 'solid-js';
import { createSignedIn } from '../api/client';
import { ErrorState, Loading } from '../components/Load';
import { ToastProvider } from '../components/Toasts';
import { I18nProvider } from '../i18n';
import { createPortalClient, PortalApiContext, type PortalApi } from './api';
import { Home } from './Home';
import { SignIn } from './SignIn';

/** /me/login?token=… redeems an emailed link, then the address bar becomes /me (the token leaves history). */
function Gate(props: { api: PortalApi; setOnUnauthorized: (f: () => void) => void }) {
  const [linkFailed, setLinkFailed] = createSignal(false);
  const [ready, setReady] = createSignal(false);
  onMount(async () => {
    const token = new URLSearchParams(location.search).get('token');
    if (location.pathname.startsWith('/me/login') && token) {
      history.replaceState(null, '', '/me');
      try {
        await props.api.redeemLink(token);
      } catch {
        setLinkFailed(true);
      }
    } else if (location.pathname !== '/me') {
      history.replaceState(null, '', `/me${location.search}`);
    }
    setReady(true);
  });
  const { me, refetch, logout } = createSignedIn(props.api, props.setOnUnauthorized, ready);
  return (
    <Switch fallback={<div class="center-page"><Loading /></div>}>
      <Match when={me.error}>
        <div class="center-page">
          <ErrorState error={me.error} retry={refetch} />
        </div>
      </Match>
      <Match when={me() === null}>
        <SignIn linkFailed={linkFailed()} onSignedIn={() => void refetch()} />
      </Match>
      <Match when={me()}>
        {(m) => (
          <Home
            me={m()}
            refetch={() => void refetch()}
            logout={logout}
          />
        )}
      </Match>
    </Switch>
  );
}

export function PortalApp() {
  let onUnauthorized = () => {};
  const api = createPortalClient({ onUnauthorized: () => onUnauthorized() });
  return (
    <I18nProvider>
      <PortalApiContext.Provider value={api}>
        <ToastProvider>
          <Gate api={api} setOnUnauthorized={(f) => (onUnauthorized = f)} />
        </ToastProvider>
      </PortalApiContext.Provider>
    </I18nProvider>
  );
}
