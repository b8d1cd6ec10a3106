import { createResource, createSignal, Show } from 'solid-js';
import { useApi } from '../../api/client';
import type { Plan } from '../../api/types';
import { useI18n } from '../../i18n';
import { useSession } from '../../session';
import { Badge } from '../Badge';
import { DataTable } from '../DataTable';
import { createAction, FormError, withToast } from '../form';
import { Empty, Load } from '../Load';
import { useToast } from '../Toasts';

export function PlansSettings() {
  const api = useApi();
  const toast = useToast();
  const session = useSession();
  const { t, fmt } = useI18n();
  const [plans, { refetch }] = createResource(() => api.plans());
  const [slug, setSlug] = createSignal('');
  const [name, setName] = createSignal('');
  const [monthly, setMonthly] = createSignal('');
  const [editing, setEditing] = createSignal<string | null>(null);
  const [editName, setEditName] = createSignal('');
  const [editMonthly, setEditMonthly] = createSignal('');
  const action = createAction();

  const done = () => {
    toast.ok(t('settings.planSaved'));
    void refetch();
  };
  const create = action.submit(async () => {
    await api.createPlan({ slug: slug().trim(), name: name().trim(), monthlyCredits: Number(monthly().replace(/[.,\s]/g, '')) });
    setSlug('');
    setName('');
    setMonthly('');
    done();
  });
  const save = (p: Plan, patch: { name?: string; monthlyCredits?: number; active?: boolean }) =>
    withToast(toast, async () => {
      await api.updatePlan(p.id, patch);
      setEditing(null);
      done();
    });
  return (
    <section class="card" id="plans">
      <h2>{t('settings.plans')}</h2>
      <Load retry={refetch}>
        <Show when={plans()}>
          {(ps) => (
            <Show when={ps().items.length} fallback={<Empty />}>
              <DataTable
                items={ps().items}
                class="table compact"
                head={
                  <>
                    <th>{t('common.name')}</th>
                    <th class="hide-sm">{t('settings.slug')}</th>
                    <th class="num">{t('settings.monthly')}</th>
                    <th>{t('common.status')}</th>
                    <Show when={session.isAdmin()}>
                      <th />
                    </Show>
                  </>
                }
              >
                {(p) => (
                  <Show
                    when={editing() === p.id}
                    fallback={
                      <tr>
                        <td>{p.name}</td>
                        <td class="hide-sm"><code>{p.slug}</code></td>
                        <td class="num">{fmt().num(p.monthlyCredits)}</td>
                        <td>
                          <Badge tone={p.active ? 'ok' : 'muted'}>{p.active ? t('settings.active') : '—'}</Badge>
                        </td>
                        <Show when={session.isAdmin()}>
                          <td class="nowrap right">
                            <button type="button" class="btn btn-small" onClick={() => (setEditing(p.id), setEditName(p.name), setEditMonthly(String(p.monthlyCredits)))}>
                              {t('settings.edit')}
                            </button>{' '}
                            <button type="button" class="btn btn-small btn-ghost" onClick={() => void save(p, { active: !p.active })}>
                              {p.active ? t('settings.deactivate') : t('settings.activate')}
                            </button>
                          </td>
                        </Show>
                      </tr>
                    }
                  >
                    <tr>
                      <td><input aria-label={t('common.name')} value={editName()} onInput={(e) => setEditName(e.currentTarget.value)} /></td>
                      <td class="hide-sm"><code>{p.slug}</code></td>
                      <td class="num"><input aria-label={t('settings.monthly')} inputmode="numeric" value={editMonthly()} onInput={(e) => setEditMonthly(e.currentTarget.value)} /></td>
                      <td />
                      <td class="nowrap right">
                        <button type="button" class="btn btn-small btn-primary" onClick={() => void save(p, { name: editName().trim(), monthlyCredits: Number(editMonthly().replace(/[.,\s]/g, '')) })}>
                          {t('common.save')}
                        </button>{' '}
                        <button type="button" class="btn btn-small" onClick={() => setEditing(null)}>{t('common.cancel')}</button>
                      </td>
                    </tr>
                  </Show>
                )}
              </DataTable>
              <p class="muted small">{t('person.planNote')}</p>
            </Show>
          )}
        </Show>
      </Load>
      <Show when={session.isAdmin()}>
        <form class="row-fields" onSubmit={create}>
          <label class="field">
            <span>{t('settings.slug')}</span>
            <input name="plan-slug" required pattern="[a-z0-9][a-z0-9\-]{0,39}" value={slug()} onInput={(e) => setSlug(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>{t('common.name')}</span>
            <input name="plan-name" required value={name()} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label class="field">
            <span>{t('settings.monthly')}</span>
            <input name="plan-monthly" required inputmode="numeric" value={monthly()} onInput={(e) => setMonthly(e.currentTarget.value)} />
          </label>
          <button type="submit" class="btn">{t('settings.addPlan')}</button>
        </form>
        <FormError error={action.error()} />
      </Show>
    </section>
  );
}
