import { onCleanup, onMount, Show, type JSX } from 'solid-js';
import { Portal } from 'solid-js/web';
import { useI18n } from '../i18n';
import { SecretBox } from './CopyButton';

export function Modal(props: { title: string; onClose: () => void; children: JSX.Element; footer?: JSX.Element; wide?: boolean }) {
  const { t } = useI18n();
  let box: HTMLDivElement | undefined;
  const onKey = (e: KeyboardEvent) => e.key === 'Escape' && props.onClose();
  onMount(() => {
    document.addEventListener('keydown', onKey);
    box?.querySelector<HTMLElement>('input,select,textarea,button.btn-primary')?.focus();
  });
  onCleanup(() => document.removeEventListener('keydown', onKey));
  return (
    <Portal>
      <div class="overlay" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
        <div ref={box} class={`modal${props.wide ? ' modal-wide' : ''}`} role="dialog" aria-modal="true" aria-label={props.title}>
          <header class="modal-head">
            <h2>{props.title}</h2>
            <button type="button" class="icon-btn" aria-label={t('common.close')} onClick={() => props.onClose()}>
              ×
            </button>
          </header>
          <div class="modal-body">{props.children}</div>
          <Show when={props.footer}>
            <footer class="modal-foot">{props.footer}</footer>
          </Show>
        </div>
      </div>
    </Portal>
  );
}

/** A secret shown once (new key, new token), with a close button; `children` go under it. */
export function SecretModal(props: { title: string; value: string; warning: string; onClose: () => void; children?: JSX.Element }) {
  const { t } = useI18n();
  return (
    <Modal title={props.title} onClose={props.onClose}>
      <SecretBox value={props.value} warning={props.warning} />
      {props.children}
      <div class="form-actions">
        <button type="button" class="btn btn-primary" onClick={() => props.onClose()}>{t('common.close')}</button>
      </div>
    </Modal>
  );
}

/** "Are you sure?" in place: the question, cancel, and confirm (disabled while busy). */
export function InlineConfirm(props: { text: string; busy: boolean; onCancel: () => void; onConfirm: () => void }) {
  const { t } = useI18n();
  return (
    <div class="inline-confirm">
      <p>{props.text}</p>
      <div class="actions">
        <button type="button" class="btn" onClick={() => props.onCancel()}>{t('common.cancel')}</button>
        <button type="button" class="btn btn-primary" disabled={props.busy} onClick={() => props.onConfirm()}>{t('common.confirm')}</button>
      </div>
    </div>
  );
}
