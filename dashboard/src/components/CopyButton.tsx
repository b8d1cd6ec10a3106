import { createSignal } from 'solid-js';
import { useI18n } from '../i18n';

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Fallback for non-secure origins (http on a LAN address).
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand?.('copy') ?? false;
    ta.remove();
    return ok;
  }
}

export function CopyButton(props: { text: string; class?: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = createSignal(false);
  return (
    <button
      type="button"
      class={props.class ?? 'btn btn-small'}
      onClick={async () => {
        if (await copyText(props.text)) {
          setCopied(true);
          setTimeout(() => setCopied(false), 2000);
        }
      }}
    >
      {copied() ? t('common.copied') : t('common.copy')}
    </button>
  );
}

/** A secret shown once, selectable, with a copy button. */
export function SecretBox(props: { value: string; warning: string }) {
  return (
    <div class="secret">
      <p class="warn-text">⚠ {props.warning}</p>
      <div class="secret-row">
        <code class="secret-value" data-testid="secret">{props.value}</code>
        <CopyButton text={props.value} class="btn btn-primary btn-small" />
      </div>
    </div>
  );
}
