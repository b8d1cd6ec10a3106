import { createSignal, Show } from 'solid-js';
import { useApi } from '../api/client';
import type { User } from '../api/types';
import { useI18n, type MessageKey } from '../i18n';
import { useSession } from '../session';
import { KeyStatusBadge } from './Badge';
import { createAction } from './form';
import { InlineConfirm, SecretModal } from './Modal';
import { useToast } from './Toasts';

/** The person's LiteLLM key: status, alias, hint, rotate (new key shown once), block/unblock. */
export function KeyPanel(props: { user: User; onChanged: () => void }) {
  const api = useApi();
  const toast = useToast();
  const session = useSession();
  const { t, fmt } = useI18n();
  const [confirming, setConfirming] = createSignal(false);
  const [fresh, setFresh] = createSignal<string>();
  const action = createAction(toast.error);
  const busy = action.busy;

  const run = (fn: () => Promise<unknown>, ok: MessageKey) =>
    action.run(async () => {
      await fn();
      toast.ok(t(ok));
      props.onChanged();
    });
  const rotate = () =>
    run(async () => {
      const k = await api.rotateKey(props.user.id);
      setConfirming(false);
      setFresh(k.plaintext);
    }, 'person.rotated');

  const deleted = () => props.user.status === 'deleted';
  return (
    <section class="card">
      <h2>{t('person.key')}</h2>
      <Show when={props.user.key} fallback={<p class="muted">{t('person.noKey')}</p>}>
        {(k) => (
          <dl class="facts">
            <dt>{t('common.status')}</dt>
            <dd>
              <KeyStatusBadge status={k().status} />
            </dd>
            <dt>{t('person.alias')}</dt>
            <dd>
              <code>{k().alias}</code>
            </dd>
            <dt>{t('person.hint')}</dt>
            <dd>
              <code>{k().hint ?? '—'}</code>
            </dd>
            <dt>{t('person.spend')}</dt>
            <dd>{fmt().usd(k().spendUsd)}</dd>
          </dl>
        )}
      </Show>
      <Show when={session.isAdmin() && !deleted()}>
        <Show
          when={confirming()}
          fallback={
            <div class="actions">
              <button type="button" class="btn" disabled={busy()} onClick={() => setConfirming(true)}>
                ↻ {t('person.rotate')}
              </button>
              <Show
                when={props.user.status === 'suspended'}
                fallback={
                  <button type="button" class="btn btn-warn" disabled={busy()} onClick={() => void run(() => api.suspend(props.user.id), 'person.suspended')}>
                    {t('person.suspend')}
                  </button>
                }
              >
                <button type="button" class="btn" disabled={busy()} onClick={() => void run(() => api.activate(props.user.id), 'person.activated')}>
                  {t('person.activate')}
                </button>
              </Show>
            </div>
          }
        >
          <InlineConfirm text={t('person.rotateConfirm')} busy={busy()} onCancel={() => setConfirming(false)} onConfirm={() => void rotate()} />
        </Show>
      </Show>
      <Show when={fresh()}>
        {(plain) => <SecretModal title={t('keyReveal.title')} value={plain()} warning={t('keyReveal.once')} onClose={() => setFresh(undefined)} />}
      </Show>
    </section>
  );
}
