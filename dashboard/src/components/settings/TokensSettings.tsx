import { createResource, createSignal, For, Show } from 'solid-js';
import { useApi } from '../../api/client';
import type { Role } from '../../api/types';
import { useI18n, type MessageKey } from '../../i18n';
import { useSession } from '../../session';
import { Badge } from '../Badge';
import { SecretBox } from '../CopyButton';
import { Empty, Load } from '../Load';
import { Modal } from '../Modal';
import { errorText, useToast } from '../Toasts';

export function TokensSettings() {
  const api = useApi();
  const toast = useToast();
  const session = useSession();
  const { t, fmt } = useI18n();
  const [tokens, { refetch }] = createResource(() => api.tokens());
  const [name, setName] = createSignal('');
  const [role, setRole] = createSignal<Role>('viewer');
  const [created, setCreated] = createSignal<string>();
  const [error, setError] = createSignal('');

  const create = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      const tok = await api.createToken(name().trim(), role());
      setCreated(tok.token);
      setName('');
      void refetch();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const revoke = async (id: string) => {
    try {
      await api.revokeToken(id);
      toast.ok(t('settings.revoked'));
      void refetch();
    } catch (err) {
      toast.error(err);
    }
  };
  return (
    <section class="card" id="tokens">
      <h2>{t('settings.tokens')}</h2>
      <Load retry={refetch}>
        <Show when={tokens()}>
          {(ts) => (
            <Show when={ts().items.length} fallback={<Empty />}>
              <div class="table-wrap">
                <table class="table compact">
                  <thead>
                    <tr>
                      <th>{t('settings.tokenName')}</th>
                      <th>{t('settings.tokenRole')}</th>
                      <th class="hide-sm">{t('settings.lastUsed')}</th>
                      <th>{t('common.status')}</th>
                      <Show when={session.isAdmin()}>
                        <th />
                      </Show>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={ts().items}>
                      {(tok) => (
                        <tr>
                          <td>{tok.name}</td>
                          <td>{t(`role.${tok.role}` as MessageKey)}</td>
                          <td class="hide-sm muted">{tok.lastUsedAt ? fmt().dateTime(tok.lastUsedAt) : '—'}</td>
                          <td>
                            <Badge tone={tok.revokedAt ? 'muted' : 'ok'}>{tok.revokedAt ? t('settings.revoked') : t('key.active')}</Badge>
                          </td>
                          <Show when={session.isAdmin()}>
                            <td class="right">
                              <Show when={!tok.revokedAt}>
                                <button type="button" class="btn btn-small btn-danger-ghost" onClick={() => void revoke(tok.id)}>
                                  {t('settings.revoke')}
                                </button>
                              </Show>
                            </td>
                          </Show>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
              </div>
            </Show>
          )}
        </Show>
      </Load>
      <Show when={session.isAdmin()}>
        <form class="row-fields" onSubmit={create}>
          <label class="field grow">
            <span>{t('settings.tokenName')}</span>
            <input name="token-name" required maxLength={100} value={name()} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>{t('settings.tokenRole')}</span>
            <select value={role()} onChange={(e) => setRole(e.currentTarget.value as Role)}>
              <option value="viewer">{t('role.viewer')}</option>
              <option value="admin">{t('role.admin')}</option>
            </select>
          </label>
          <button type="submit" class="btn">{t('settings.createToken')}</button>
        </form>
        <Show when={error()}>
          <p class="form-error" role="alert">{error()}</p>
        </Show>
      </Show>
      <Show when={created()}>
        {(tok) => (
          <Modal title={t('settings.tokens')} onClose={() => setCreated(undefined)}>
            <SecretBox value={tok()} warning={t('settings.tokenOnce')} />
            <div class="form-actions">
              <button type="button" class="btn btn-primary" onClick={() => setCreated(undefined)}>{t('common.close')}</button>
            </div>
          </Modal>
        )}
      </Show>
    </section>
  );
}
