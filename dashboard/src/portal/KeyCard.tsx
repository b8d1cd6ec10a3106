import { createSignal, Show } from 'solid-js';
import { KeyStatusBadge } from '../components/Badge';
import { createAction } from '../components/form';
import { InlineConfirm, SecretModal } from '../components/Modal';
import { useToast } from '../components/Toasts';
import { usePortalApi, type PortalMe } from './api';
import { usePortalI18n } from './i18n';

/** The person's own key: status and hint; rotating shows the new key once, with how to use it. */
export function KeyCard(props: { me: PortalMe; onChanged: () => void }) {
  const api = usePortalApi();
  const toast = useToast();
  const { p } = usePortalI18n();
  const [confirming, setConfirming] = createSignal(false);
  const [fresh, setFresh] = createSignal<string>();
  const action = createAction(toast.error);
  const rotate = () =>
    action.run(async () => {
      const k = await api.rotateKey();
      setConfirming(false);
      setFresh(k.plaintext);
      props.onChanged();
    });
  return (
    <section class="card">
      <h2>{p('key.title')}</h2>
      <Show when={props.me.key} fallback={<p class="muted">{p('key.none')}</p>}>
        {(k) => (
          <>
            <dl class="facts">
              <dt>{p('key.status')}</dt>
              <dd>
                <KeyStatusBadge status={k().status} />
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
              <InlineConfirm text={p('key.rotateConfirm')} busy={action.busy()} onCancel={() => setConfirming(false)} onConfirm={() => void rotate()} />
            </Show>
          </>
        )}
      </Show>
      <Show when={fresh()}>
        {(plain) => (
          <SecretModal title={p('key.newTitle')} value={plain()} warning={p('key.once')} onClose={() => setFresh(undefined)}>
            <p class="small">{p('key.howto')}</p>
          </SecretModal>
        )}
      </Show>
    </section>
  );
}
