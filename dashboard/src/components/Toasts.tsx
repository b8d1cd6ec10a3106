import { createContext, createSignal, For, useContext, type JSX } from 'solid-js';
import { ApiError } from '../api/client';

interface Toast { id: number; kind: 'ok' | 'error'; text: string }
export interface Toaster { ok(text: string): void; error(e: unknown): void }

const ToastContext = createContext<Toaster>();

/** The service's message (and request id) for an error, else its text. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.requestId ? `${e.message} (${e.code}, ${e.requestId.slice(0, 8)})` : e.message;
  return e instanceof Error ? e.message : String(e);
}

export function ToastProvider(props: { children: JSX.Element }) {
  const [toasts, setToasts] = createSignal<Toast[]>([]);
  let next = 1;
  const push = (kind: Toast['kind'], text: string) => {
    const id = next++;
    setToasts((l) => [...l, { id, kind, text }]);
    setTimeout(() => setToasts((l) => l.filter((t) => t.id !== id)), kind === 'ok' ? 3500 : 8000);
  };
  const api: Toaster = { ok: (t) => push('ok', t), error: (e) => push('error', errorText(e)) };
  return (
    <ToastContext.Provider value={api}>
      {props.children}
      <div class="toasts" role="status" aria-live="polite">
        <For each={toasts()}>
          {(t) => (
            <div class={`toast toast-${t.kind}`} onClick={() => setToasts((l) => l.filter((x) => x.id !== t.id))}>
              {t.text}
            </div>
          )}
        </For>
      </div>
    </ToastContext.Provider>
  );
}

export function useToast(): Toaster {
  return useContext(ToastContext) ?? { ok: () => {}, error: () => {} };
}
