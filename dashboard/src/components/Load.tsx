import { ErrorBoundary, Show, Suspense, type JSX } from 'solid-js';
import { ApiError } from '../api/client';
import { useI18n } from '../i18n';
import { errorText } from './Toasts';

export function Loading() {
  const { t } = useI18n();
  return (
    <div class="state state-loading" aria-busy="true">
      <span class="spinner" aria-hidden="true" /> {t('common.loading')}
    </div>
  );
}

export function Empty(props: { children?: JSX.Element }) {
  const { t } = useI18n();
  return <div class="state state-empty">{props.children ?? t('common.empty')}</div>;
}

export function ErrorState(props: { error: unknown; retry?: () => void }) {
  const { t } = useI18n();
  const notYet = () => props.error instanceof ApiError && props.error.status === 404 && props.error.code === 'not_found' && /no route/.test(props.error.message);
  return (
    <div class="state state-error" role="alert">
      <Show when={!notYet()} fallback={<span>{t('common.unavailable')}</span>}>
        <strong>{t('common.error')}:</strong> <span>{errorText(props.error)}</span>
      </Show>
      <Show when={props.retry}>
        {' '}
        <button type="button" class="btn btn-small" onClick={() => props.retry?.()}>
          {t('common.retry')}
        </button>
      </Show>
    </div>
  );
}

/** Suspense + ErrorBoundary around a block that reads resources; retry refetches. */
export function Load(props: { children: JSX.Element; retry?: () => void; fallback?: JSX.Element }) {
  return (
    <ErrorBoundary
      fallback={(err, reset) => (
        <ErrorState
          error={err}
          retry={() => {
            props.retry?.();
            reset();
          }}
        />
      )}
    >
      <Suspense fallback={props.fallback ?? <Loading />}>{props.children}</Suspense>
    </ErrorBoundary>
  );
}
