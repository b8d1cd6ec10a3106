import { createSignal, Show } from 'solid-js';
import { useApi } from '../api/client';
import type { Key, User } from '../api/types';
import { useI18n, type MessageKey } from '../i18n';
import { useSession } from '../session';
import { Badge } from './Badge';
import { SecretBox } from './CopyButton';
import { Modal } from './Modal';
import { useToast } from './Toasts';

const tone = (s: Key['status']) => (s === 'active' ? 'ok' : s === 'pending' ? 'warn' : 'bad');

/** The person's LiteLLM key: status, alias, hint, rotate (new key shown once), block/unblock. */
export function KeyPanel(props: { user: User; onChanged: () => void }) {
  const api = useApi();
  const toast = useToast();
  const session = useSession();
  const { t, fmt } = useI18n();
  const [confirming, setConfirming] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  const [fresh, setFresh] = createSignal<string>();

  const run = async (fn: () => Promise<unknown>, ok: MessageKey) => {
    setBusy(true);
    try {
      await fn();
      toast.ok(t(ok));
      props.onChanged();
    } catch (e) {
      toast.error(e);
    } finally {
      setBusy(false);
    }
  };
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
              <Badge tone={tone(k().status)}>{t(`key.${k().status}` as MessageKey)}</Badge>
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
          <div class="inline-confirm">
            <p>{t('person.rotateConfirm')}</p>
            <div class="actions">
              <button type="button" class="btn" onClick={() => setConfirming(false)}>{t('common.cancel')}</button>
              <button type="button" class="btn btn-primary" disabled={busy()} onClick={() => void rotate()}>{t('common.confirm')}</button>
            </div>
          </div>
        </Show>
      </Show>
      <Show when={fresh()}>
        {(plain) => (
          <Modal title={t('keyReveal.title')} onClose={() => setFresh(undefined)}>
            <SecretBox value={plain()} warning={t('keyReveal.once')} />
            <div class="form-actions">
              <button type="button" class="btn btn-primary" onClick={() => setFresh(undefined)}>{t('common.close')}</button>
            </div>
          </Modal>
        )}
      </Show>
    </section>
  );
}
