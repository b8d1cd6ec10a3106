import { createResource, createSignal, Show } from 'solid-js';
import { isNotFound, useApi } from '../api/client';
import { Load } from '../components/Load';
import { FactorSettings } from '../components/settings/FactorSettings';
import { PacksSettings } from '../components/settings/PacksSettings';
import { PlansSettings } from '../components/settings/PlansSettings';
import { Snippets } from '../components/settings/Snippets';
import { TokensSettings } from '../components/settings/TokensSettings';
import { errorText, useToast } from '../components/Toasts';
import { useI18n } from '../i18n';
import { useSession } from '../session';

/** "80, 95,100" → [80, 95, 100]; null when any part is not a percentage in (0, 100]. */
export function parseThresholds(text: string): number[] | null {
  const parts = text.split(/[,;\s]+/).filter(Boolean);
  if (!parts.length) return null;
  const nums = parts.map(Number);
  if (nums.some((n) => !Number.isFinite(n) || n <= 0 || n > 100)) return null;
  return [...new Set(nums)].sort((a, b) => a - b);
}

function Thresholds() {
  const api = useApi();
  const toast = useToast();
  const session = useSession();
  const { t } = useI18n();
  const [data, { refetch }] = createResource(() => api.thresholds().catch((e) => (isNotFound(e) ? null : Promise.reject(e))));
  const [text, setText] = createSignal<string>();
  const [error, setError] = createSignal('');
  const save = async (e: Event) => {
    e.preventDefault();
    const list = parseThresholds(text() ?? '');
    if (!list) return setError(t('settings.thresholdsHelp'));
    setError('');
    try {
      await api.setThresholds(list);
      toast.ok(t('settings.thresholdsSaved'));
      setText(undefined);
      void refetch();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section class="card" id="thresholds">
      <h2>{t('settings.thresholds')}</h2>
      <Load retry={refetch}>
        <Show when={data() !== undefined}>
          <Show when={data()} fallback={<p class="muted">80%, 95%, 100% · {t('common.unavailable')}</p>}>
            {(d) => (
              <form class="row-fields" onSubmit={save}>
                <label class="field grow">
                  <span class="muted small">{t('settings.thresholdsHelp')}</span>
                  <input name="thresholds" disabled={!session.isAdmin()} value={text() ?? d().thresholds.join(', ')} onInput={(e) => setText(e.currentTarget.value)} />
                </label>
                <Show when={session.isAdmin()}>
                  <button type="submit" class="btn">{t('common.save')}</button>
                </Show>
              </form>
            )}
          </Show>
        </Show>
      </Load>
      <Show when={error()}>
        <p class="form-error" role="alert">{error()}</p>
      </Show>
    </section>
  );
}

export default function Settings() {
  const { t } = useI18n();
  return (
    <div class="page">
      <h1>{t('settings.title')}</h1>
      <FactorSettings />
      <PlansSettings />
      <PacksSettings />
      <Thresholds />
      <TokensSettings />
      <Snippets />
    </div>
  );
}
