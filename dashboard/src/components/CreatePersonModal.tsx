import { createResource, createSignal, For, Show } from 'solid-js';
import { useApi } from '../api/client';
import type { User, UserWithNewKey } from '../api/types';
import { useI18n } from '../i18n';
import { SecretBox } from './CopyButton';
import { createAction, FormError } from './form';
import { Modal } from './Modal';
import { useToast } from './Toasts';

/** Create a person, then show their LiteLLM key once. */
export function CreatePersonModal(props: { onClose: () => void; onCreated: (u: User) => void }) {
  const api = useApi();
  const toast = useToast();
  const { t } = useI18n();
  const [plans] = createResource(() => api.plans().then((r) => r.items.filter((p) => p.active)).catch(() => []));
  const [email, setEmail] = createSignal('');
  const [name, setName] = createSignal('');
  const [plan, setPlan] = createSignal('');
  const [locale, setLocale] = createSignal<'pt-BR' | 'en'>('pt-BR');
  const { busy, error, submit: submitting } = createAction();
  const [created, setCreated] = createSignal<UserWithNewKey>();

  const submit = submitting(async () => {
    const u = await api.createUser({ email: email().trim(), name: name().trim(), plan: plan() || undefined, locale: locale() });
    setCreated(u);
    toast.ok(t('create.done'));
    props.onCreated(u);
  });

  return (
    <Modal title={created() ? t('keyReveal.title') : t('create.title')} onClose={props.onClose}>
      <Show
        when={created()}
        fallback={
          <form class="form" onSubmit={submit}>
            <label class="field">
              <span>{t('common.name')}</span>
              <input name="name" required maxLength={200} value={name()} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
            <label class="field">
              <span>{t('common.email')}</span>
              <input name="email" type="email" required maxLength={254} value={email()} onInput={(e) => setEmail(e.currentTarget.value)} />
            </label>
            <div class="row-fields">
              <label class="field">
                <span>{t('people.plan')}</span>
                <select name="plan" value={plan()} onChange={(e) => setPlan(e.currentTarget.value)}>
                  <option value="">basic</option>
                  <For each={plans() ?? []}>{(p) => <option value={p.slug}>{p.name}</option>}</For>
                </select>
              </label>
              <label class="field">
                <span>{t('create.locale')}</span>
                <select name="locale" value={locale()} onChange={(e) => setLocale(e.currentTarget.value as 'pt-BR' | 'en')}>
                  <option value="pt-BR">Português</option>
                  <option value="en">English</option>
                </select>
              </label>
            </div>
            <FormError error={error()} />
            <div class="form-actions">
              <button type="button" class="btn" onClick={props.onClose}>{t('common.cancel')}</button>
              <button type="submit" class="btn btn-primary" disabled={busy()}>{t('create.submit')}</button>
            </div>
          </form>
        }
      >
        {(u) => (
          <div class="form">
            <p>
              <b>{u().name}</b> · {u().email}
            </p>
            <Show when={u().key?.plaintext} fallback={<p class="muted">{t('keyReveal.noKey')}</p>}>
              {(k) => <SecretBox value={k()} warning={t('keyReveal.once')} />}
            </Show>
            <div class="form-actions">
              <button type="button" class="btn btn-primary" onClick={props.onClose}>{t('common.close')}</button>
            </div>
          </div>
        )}
      </Show>
    </Modal>
  );
}
