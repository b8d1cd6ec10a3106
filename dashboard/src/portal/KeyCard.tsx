import { createSignal, Show } from 'solid-js';
import { Badge } from '../components/Badge';
import { SecretBox } from '../components/CopyButton';
import { Modal } from '../components/Modal';
import { useToast } from '../components/Toasts';
import type { MessageKey } from '../i18n';
import { usePortalApi, type PortalMe } from './api';
import { usePortalI18n } from './i18n';

/** The person's own key: status and hint; rotating shows the new key once, with how to use it. */
export function KeyCard(props: { me: PortalMe; onChanged: () => void }) {
  const api = usePortalApi();
  const toast = useToast();
  const { p, t } = usePortalI18n();
  const [confirming, setConfirming] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  const [fresh, setFresh] = createSignal<string>();
  const rotate = async () => {
    setBusy(true);
    try {
      const k = await api.rotateKey();
      setConfirming(false);
      setFresh(k.plaintext);
      props.onChanged();
    } catch (e) {
      toast.error(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card">
      <h2>{p('key.title')}</h2>
      <Show when={props.me.key} fallback={<p class="muted">{p('key.none')}</p>}>
        {(k) => (
          <>
            <dl class="facts">
              <dt>{p('key.status')}</dt>
              <dd>
                <Badge tone={k().status === 'active' ? 'ok' : k().status === 'pending' ? 'warn' : 'bad'}>{t(`key.${k().status}` as MessageKey)}</Badge>
              </dd>
              <dt>{p('key.hint')}</dt>
              <dd>
                <code data-testid="key-hint">{k().hint ?? '—'}</code>
              </dd>
            </dl>
            <Show
              when={confirming()}
              fallback={
                <button type="button" class="btn" onClick={() => setConfirming(true)}>
                  ↻ {p('key.rotate')}
                </button>
              }
            >
              <div class="inline-confirm">
                <p>{p('key.rotateConfirm')}</p>
                <div class="actions">
                  <button type="button" class="btn" onClick={() => setConfirming(false)}>{t('common.cancel')}</button>
                  <button type="button" class="btn btn-primary" disabled={busy()} onClick={() => void rotate()}>{t('common.confirm')}</button>
                </div>
              </div>
            </Show>
          </>
        )}
      </Show>
      <Show when={fresh()}>
        {(plain) => (
          <Modal title={p('key.newTitle')} onClose={() => setFresh(undefined)}>
            <SecretBox value={plain()} warning={p('key.once')} />
            <p class="small">{p('key.howto')}</p>
            <div class="form-actions">
              <button type="button" class="btn btn-primary" onClick={() => setFresh(undefined)}>{t('common.close')}</button>
            </div>
          </Modal>
        )}
      </Show>
    </section>
  );
}
