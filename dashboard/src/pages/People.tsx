import { A, useSearchParams } from '@solidjs/router';
import { createMemo, createResource, createSignal, For, Show } from 'solid-js';
import { useApi } from '../api/client';
import type { PersonState } from '../api/types';
import { StateBadge } from '../components/Badge';
import { CreatePersonModal } from '../components/CreatePersonModal';
import { PagedTable } from '../components/PagedTable';
import { UsageBar } from '../components/UsageBar';
import { debounced } from '../lib/debounce';
import { nextSort, parseFilters, toApiQuery, toSearchParams, type PeopleFilters, type SortField } from '../lib/peopleQuery';
import { useI18n, type MessageKey } from '../i18n';
import { useSession } from '../session';

const STATES: PersonState[] = ['active', 'warned', 'blocked', 'suspended', 'deleted'];

export default function People() {
  const api = useApi();
  const { t, fmt } = useI18n();
  const session = useSession();
  const [params, setParams] = useSearchParams();
  const filters = createMemo(() => parseFilters(params));
  const update = (patch: Partial<PeopleFilters>) => setParams(toSearchParams({ ...filters(), page: 1, ...patch }));
  const [people, { refetch }] = createResource(() => toApiQuery(filters()), (q) => api.users(q));
  const [plans] = createResource(() => api.plans().then((r) => r.items).catch(() => []));
  const [search, setSearch] = createSignal(filters().search);
  const pushSearch = debounced((v: string) => update({ search: v }), 300);
  const [creating, setCreating] = createSignal(false);

  const SortHead = (p: { field: SortField; label: MessageKey; class?: string }) => (
    <th class={p.class} aria-sort={filters().sort === p.field ? (filters().order === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="th-sort" onClick={() => update(nextSort(filters(), p.field))}>
        {t(p.label)}
        <span class="sort-ind">{filters().sort === p.field ? (filters().order === 'asc' ? '▲' : '▼') : ''}</span>
      </button>
    </th>
  );

  return (
    <div class="page">
      <div class="page-head">
        <h1>{t('people.title')}</h1>
        <Show when={session.isAdmin()}>
          <button type="button" class="btn btn-primary" onClick={() => setCreating(true)}>
            + {t('people.new')}
          </button>
        </Show>
      </div>
      <div class="filters card">
        <input
          type="search"
          class="grow"
          placeholder={t('people.search')}
          aria-label={t('people.search')}
          value={search()}
          onInput={(e) => {
            setSearch(e.currentTarget.value);
            pushSearch(e.currentTarget.value);
          }}
        />
        <select aria-label={t('people.state')} value={filters().status} onChange={(e) => update({ status: e.currentTarget.value as PeopleFilters['status'] })}>
          <option value="">{t('people.state')}: {t('common.all')}</option>
          <For each={STATES}>{(s) => <option value={s}>{t(`state.${s}` as MessageKey)}</option>}</For>
        </select>
        <select aria-label={t('people.plan')} value={filters().plan} onChange={(e) => update({ plan: e.currentTarget.value })}>
          <option value="">{t('people.plan')}: {t('common.all')}</option>
          <For each={plans() ?? []}>{(p) => <option value={p.slug}>{p.name}</option>}</For>
        </select>
        <select
          aria-label={t('people.minPercent')}
          value={filters().minPercent ?? ''}
          onChange={(e) => update({ minPercent: e.currentTarget.value === '' ? null : Number(e.currentTarget.value) })}
        >
          <option value="">{t('people.usage')}: {t('people.any')}</option>
          <For each={[50, 80, 95, 100]}>{(p) => <option value={p}>≥ {p}%</option>}</For>
        </select>
      </div>
      <section class="card flush">
        <PagedTable
          data={people}
          retry={refetch}
          empty={t('people.empty')}
          onPage={(p) => update({ page: p })}
          class="table people-table"
          head={
            <>
              <SortHead field="name" label="common.name" />
              <th class="hide-sm">{t('people.plan')}</th>
              <th>{t('people.state')}</th>
              <SortHead field="percentUsed" label="people.usage" class="col-usage" />
              <SortHead field="credits" label="people.balance" class="num hide-sm" />
              <SortHead field="createdAt" label="people.created" class="hide-sm" />
            </>
          }
        >
          {(u) => (
            <tr>
              <td>
                <A href={`/people/${u.id}`} class="strong">{u.name}</A>
                <div class="muted small ellipsis">{u.email}</div>
              </td>
              <td class="hide-sm">{u.plan.name}</td>
              <td>
                <StateBadge state={u.balance.state} />
              </td>
              <td class="col-usage">
                <UsageBar percent={u.balance.percentUsed} />
              </td>
              <td class="num hide-sm">{fmt().num(u.balance.credits)}</td>
              <td class="hide-sm muted">{fmt().date(u.createdAt)}</td>
            </tr>
          )}
        </PagedTable>
      </section>
      <Show when={creating()}>
        <CreatePersonModal onClose={() => setCreating(false)} onCreated={() => void refetch()} />
      </Show>
    </div>
  );
}
