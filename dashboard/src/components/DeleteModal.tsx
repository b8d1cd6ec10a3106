import { createSignal } from 'solid-js';
import { useApi } from '../api/client';
import type { User } from '../api/types';
import { useI18n } from '../i18n';
import { FormError } from './form';
import { Modal } from './Modal';
import { errorText, useToast } from './Toasts';

/** Delete with typed confirmation: the person's email must be typed exactly. */
export function DeleteModal(props: { user: User; onClose: () => void; onDone: () => void }) {
  const api = useApi();
  const toast = useToast();
  const { t } = useI18n();
  const [typed, setTyped] = createSignal('');
  const [error, setError] = createSignal('');
  const [busy, setBusy] = createSignal(false);
  const matches = () => typed().trim().toLowerCase() === props.user.email.toLowerCase();
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!matches()) return;
    setBusy(true);
    try {
      await api.deleteUser(props.user.id);
      toast.ok(t('person.deleted'));
      props.onDone();
      props.onClose();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal title={t('person.deleteTitle')} onClose={props.onClose}>
      <form class="form" onSubmit={submit}>
        <p>{t('person.deleteText', { email: props.user.email })}</p>
        <input name="confirm-email" autocomplete="off" value={typed()} onInput={(e) => setTyped(e.currentTarget.value)} />
        <FormError error={error()} />
        <div class="form-actions">
          <button type="button" class="btn" onClick={props.onClose}>{t('common.cancel')}</button>
          <button type="submit" class="btn btn-danger" disabled={!matches() || busy()}>{t('person.delete')}</button>
        </div>
      </form>
    </Modal>
  );
}
