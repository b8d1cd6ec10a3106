import { createSignal, Show } from 'solid-js';
import { useApi } from '../api/client';
import type { User } from '../api/types';
import { useI18n } from '../i18n';
import { uuid } from '../lib/uuid';
import { createAction, FormError } from './form';
import { Modal } from './Modal';
import { useToast } from './Toasts';

/** Parse an amount typed in either locale ("1.500", "1,5", "2500"); at most 3 decimals. */
export function parseAmount(text: string, locale: string): number | null {
  let s = text.trim().replace(/\s/g, '');
  if (!s) return null;
  const decimal = locale.startsWith('pt') ? ',' : '.';
  const group = decimal === ',' ? '.' : ',';
  s = s.split(group).join('');
  if (decimal === ',') s = s.replace(',', '.');
  if (!/^-?\d+(\.\d{1,3})?$/.test(s)) return null;
  const n = Number(s);
  return Number.isFinite(n) && n !== 0 ? n : null;
}

/**
 * Add credits in two steps (form → confirmation). One Idempotency-Key per opened modal: a retry
 * after an error or a lost response sends the same key, so the top-up is booked at most once.
 */
export function CreditsModal(props: { user: Pick<User, 'id' | 'name'>; onClose: () => void; onDone: (u: User) => void }) {
  const api = useApi();
  const toast = useToast();
  const { t, fmt, locale } = useI18n();
  const idempotencyKey = uuid();
  const [amountText, setAmountText] = createSignal('');
  const [reason, setReason] = createSignal('');
  const [step, setStep] = createSignal<'form' | 'confirm'>('form');
  const { busy, error, setError, run } = createAction();
  const amount = () => parseAmount(amountText(), locale());

  const review = (e: Event) => {
    e.preventDefault();
    if (amount() === null || !reason().trim()) {
      setError(t('credits.invalid'));
      return;
    }
    setError('');
    setStep('confirm');
  };
  const submit = async () => {
    const a = amount();
    if (a === null) return;
    await run(async () => {
      const res = await api.addCredits(props.user.id, { amount: a, reason: reason().trim() }, idempotencyKey);
      toast.ok(t('credits.done', { amount: fmt().num(a) }));
      props.onDone(res.user);
      props.onClose();
    });
  };

  return (
    <Modal title={t('credits.title')} onClose={props.onClose}>
      <Show
        when={step() === 'confirm'}
        fallback={
          <form class="form" onSubmit={review}>
            <label class="field">
              <span>{t('credits.amount')}</span>
              <input name="amount" inputmode="decimal" autocomplete="off" value={amountText()} onInput={(e) => setAmountText(e.currentTarget.value)} />
            </label>
            <Show when={(amount() ?? 0) < 0}>
              <p class="muted small">{t('credits.negative')}</p>
            </Show>
            <label class="field">
              <span>{t('credits.reason')}</span>
              <input name="reason" maxLength={500} value={reason()} onInput={(e) => setReason(e.currentTarget.value)} />
            </label>
            <FormError error={error()} />
            <div class="form-actions">
              <button type="button" class="btn" onClick={props.onClose}>{t('common.cancel')}</button>
              <button type="submit" class="btn btn-primary">{t('credits.review')}</button>
            </div>
          </form>
        }
      >
        <div class="form">
          <p class="confirm-text">{t('credits.confirmText', { amount: fmt().num(amount() ?? 0), name: props.user.name })}</p>
          <p class="muted">
            {t('credits.reason')}: {reason()}
          </p>
          <FormError error={error()} />
          <div class="form-actions">
            <button type="button" class="btn" disabled={busy()} onClick={() => setStep('form')}>{t('common.back')}</button>
            <button type="button" class="btn btn-primary" disabled={busy()} onClick={() => void submit()}>{t('credits.submit')}</button>
          </div>
        </div>
      </Show>
    </Modal>
  );
}
