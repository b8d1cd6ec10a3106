import { createResource, createSignal, Show } from 'solid-js';
import { useApi } from '../../api/client';
import type { Role } from '../../api/types';
import { useI18n } from '../../i18n';
import { useSession } from '../../session';
import { Badge } from '../Badge';
import { DataTable } from '../DataTable';
import { createAction, FormError, withToast } from '../form';
import { Empty, Load } from '../Load';
import { SecretModal } from '../Modal';
import { useToast } from '../Toasts';

export function TokensSettings() {
  const api = useApi();
  const toast = useToast();
  const session = useSession();
  const { t, fmt } = useI18n();
  const [tokens, { refetch }] = createResource(() => api.tokens());
  const [name, setName] = createSignal('');
  const [role, setRole] = createSignal<Role>('viewer');
  const [created, setCreated] = createSignal<string>();
  const action = createAction();

  const create = action.submit(async () => {
    const tok = await api.createToken(name().trim(), role());
    setCreated(tok.token);
    setName('');
    void refetch();
  });
  const revoke = (id: string) =>
    withToast(toast, async () => {
      await api.revokeToken(id);
      toast.ok(t('settings.revoked'));
      void refetch();
    });
  return (
    <section class="card" id="tokens">
      <h2>{t('settings.tokens')}</h2>
      <Load retry={refetch}>
        <Show when={tokens()}>
          {(ts) => (
            <Show when={ts().items.length} fallback={<Empty />}>
              <DataTable
                items={ts().items}
                class="table compact"
                head={
                  <>
                    <th>{t('settings.tokenName')}</th>
                    <th>{t('settings.tokenRole')}</th>
                    <th class="hide-sm">{t('settings.lastUsed')}</th>
                    <th>{t('common.status')}</th>
                    <Show when={session.isAdmin()}>
                      <th />
                    </Show>
                  </>
                }
              >
                {(tok) => (
                  <tr>
                    <td>{tok.name}</td>
                    <td>{t(`role.${tok.role}`)}</td>
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
              </DataTable>
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
        <FormError error={action.error()} />
      </Show>
      <Show when={created()}>
        {(tok) => <SecretModal title={t('settings.tokens')} value={tok()} warning={t('settings.tokenOnce')} onClose={() => setCreated(undefined)} />}
      </Show>
    </section>
  );
}
