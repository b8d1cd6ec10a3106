import { createSignal } from 'solid-js';
import { useApi } from '../api/client';
import { createAction, FormError } from '../components/form';
import { LocaleSwitch } from '../components/Layout';
import { useI18n } from '../i18n';

export function Login(props: { onLoggedIn: () => void }) {
  const api = useApi();
  const { t } = useI18n();
  const [email, setEmail] = createSignal('');
  const [password, setPassword] = createSignal('');
  const { busy, error, submit: submitting } = createAction();
  const submit = submitting(async () => {
    await api.login(email(), password());
    props.onLoggedIn();
  });
  return (
    <div class="login-page">
      <form class="card login-card" onSubmit={submit}>
        <div class="login-head">
          <h1>
            <span class="brand-mark">◆</span> {t('app.title')}
          </h1>
          <LocaleSwitch />
        </div>
        <p class="muted">{t('auth.subtitle')}</p>
        <h2>{t('auth.title')}</h2>
        <label class="field">
          <span>{t('auth.email')}</span>
          <input name="email" type="email" autocomplete="username" required value={email()} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span>{t('auth.password')}</span>
          <input name="password" type="password" autocomplete="current-password" required value={password()} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <FormError error={error()} />
        <button class="btn btn-primary btn-block" type="submit" disabled={busy()}>
          {t('auth.submit')}
        </button>
      </form>
    </div>
  );
}
