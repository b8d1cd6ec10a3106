import { Router } from '@solidjs/router';
import { Match, Switch, type JSX } from 'solid-js';
import { ApiContext, createClient, createSignedIn, type Api } from './api/client';
import { Layout } from './components/Layout';
import { ErrorState, Loading } from './components/Load';
import { ToastProvider } from './components/Toasts';
import { I18nProvider } from './i18n';
import { Login } from './pages/Login';
import { routes } from './routes';
import { SessionContext, type Session } from './session';

/** Who is logged in decides between the login screen and the routed app. */
function Gate(props: { api: Api; setOnUnauthorized: (f: () => void) => void }) {
  const { me, refetch, logout } = createSignedIn(props.api, props.setOnUnauthorized);
  const session: Session = {
    me: () => me()!,
    isAdmin: () => me()?.role === 'admin',
    logout,
  };
  return (
    <Switch>
      <Match when={me.error}>
        <div class="center-page">
          <ErrorState error={me.error} retry={refetch} />
        </div>
      </Match>
      <Match when={me.loading && me() === undefined}>
        <div class="center-page">
          <Loading />
        </div>
      </Match>
      <Match when={me() === null}>
        <Login onLoggedIn={() => void refetch()} />
      </Match>
      <Match when={me()}>
        <SessionContext.Provider value={session}>
          <Router root={(p) => <Layout>{p.children}</Layout>}>{routes}</Router>
        </SessionContext.Provider>
      </Match>
    </Switch>
  );
}

export function App(props: { api?: Api; children?: JSX.Element }) {
  let onUnauthorized = () => {};
  const api = props.api ?? createClient({ onUnauthorized: () => onUnauthorized() });
  return (
    <I18nProvider>
      <ApiContext.Provider value={api}>
        <ToastProvider>
          <Gate api={api} setOnUnauthorized={(f) => (onUnauthorized = f)} />
        </ToastProvider>
      </ApiContext.Provider>
    </I18nProvider>
  );
}
