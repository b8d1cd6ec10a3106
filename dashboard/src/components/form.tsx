import { createSignal, Show } from 'solid-js';
import { errorText, type Toaster } from './Toasts';

/**
 * `busy` and `error` around an async action: `run` sets busy, clears the error, and on failure
 * shows the error's text in `error()` (or hands the error to `onError`, e.g. an error toast).
 */
export function createAction(onError?: (e: unknown) => void) {
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal('');
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError('');
    try {
      await fn();
    } catch (err) {
      if (onError) onError(err);
      else setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  /** A form's onSubmit: no page load, then `run`. */
  const submit = (fn: () => Promise<unknown>) => (e: Event) => {
    e.preventDefault();
    return run(fn);
  };
  return { busy, error, setError, run, submit };
}

/** Run an action whose failure becomes an error toast. */
export async function withToast(toast: Toaster, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    toast.error(err);
  }
}

export function FormError(props: { error: string }) {
  return (
    <Show when={props.error}>
      <p class="form-error" role="alert">{props.error}</p>
    </Show>
  );
}
