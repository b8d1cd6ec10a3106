import { createSignal, Show } from 'solid-js';
import { createAction, FormError } from '../components/form';
import { LocaleSwitch } from '../components/Layout';
import { usePortalApi } from './api';
import { usePortalI18n } from './i18n';

export function SignIn(props: { linkFailed: boolean; onSignedIn: () => void }) {
  const api = usePortalApi();
  const { p } = usePortalI18n();
  const [email, setEmail] = createSignal('');
  const [key, setKey] = createSignal('');
  const [sent, setSent] = createSignal(false);
  const { busy, error, submit } = createAction();
  return (
    <div class="login-page">
      <div class="card login-card portal-signin">
        <div class="login-head">
          <h1>
            <span class="brand-mark">◆</span> {p('title')}
          </h1>
          <LocaleSwitch />
        </div>
        <p class="muted">{p('signin.subtitle')}</p>
        <Show when={props.linkFailed}>
          <p class="form-error" role="alert">{p('signin.linkFailed')}</p>
        </Show>
        <form class="form" onSubmit={submit(async () => {
          await api.requestLink(email());
          setSent(true);
        })}>
          <h2>{p('signin.email')}</h2>
          <label class="field">
            <span>{p('signin.emailLabel')}</span>
            <input name="portal-email" type="email" autocomplete="email" required value={email()} onInput={(e) => setEmail(e.currentTarget.value)} />
          </label>
          <Show when={sent()}>
            <p class="notice" role="status">{p('signin.sent')}</p>
          </Show>
          <button class="btn btn-primary btn-block" type="submit" disabled={busy()}>{p('signin.send')}</button>
        </form>
        <div class="or"><span>{p('signin.or')}</span></div>
        <form class="form" onSubmit={submit(async () => {
          await api.loginWithKey(key().trim());
          props.onSignedIn();
        })}>
          <h2>{p('signin.key')}</h2>
          <label class="field">
            <span>{p('signin.keyLabel')}</span>
            <input name="portal-key" type="password" autocomplete="off" required value={key()} onInput={(e) => setKey(e.currentTarget.value)} />
          </label>
          <p class="muted small">{p('signin.keyHelp')}</p>
          <button class="btn btn-block" type="submit" disabled={busy()}>{p('signin.submit')}</button>
        </form>
        <FormError error={error()} />
      </div>
    </div>
  );
}
