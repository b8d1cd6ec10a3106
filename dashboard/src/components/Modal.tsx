import { onCleanup, onMount, Show, type JSX } from 'solid-js';
import { Portal } from 'solid-js/web';
import { useI18n } from '../i18n';

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
