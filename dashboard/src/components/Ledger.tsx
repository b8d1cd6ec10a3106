import { createResource, createSignal, For } from 'solid-js';
import { useApi, type Api } from '../api/client';
import type { LedgerEntry } from '../api/types';
import { useI18n } from '../i18n';
import { downloadText, toCsv } from '../lib/csv';
import { EntryReason } from './EntryReason';
import { withToast } from './form';
import { OutcomeBadge } from './Badge';
import { PagedTable } from './PagedTable';
import { useToast } from './Toasts';

const KINDS: LedgerEntry['kind'][] = ['grant', 'expiry', 'topup', 'adjustment', 'usage', 'refund', 'correction'];

/** Day-inclusive range → API bounds (`to` is exclusive: the day after). */
export function rangeQuery(from: string, to: string): { from?: string; to?: string } {
  const q: { from?: string; to?: string } = {};
  if (from) q.from = from;
  if (to) q.to = new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  return q;
}

/** Every page of the statement for the current filters (capped), as CSV text. */
export async function statementCsv(api: Api, userId: string, q: Record<string, string | undefined>): Promise<string> {
  const rows: LedgerEntry[] = [];
  for (let page = 1; page <= 100; page++) {
    const res = await api.ledger(userId, { ...q, page, pageSize: 200 });
    rows.push(...res.items);
    if (rows.length >= res.total || res.items.length === 0) break;
  }
  return toCsv(
    ['id', 'createdAt', 'kind', 'amount', 'monthly', 'topup', 'usd', 'factor', 'period', 'reason', 'actor', 'keyId', 'outcome'],
    rows.map((e) => [e.id, e.createdAt, e.kind, e.amount, e.monthly, e.topup, e.usd ?? '', e.factor, e.period, e.reason ?? '', e.actor, e.keyId ?? '', e.outcome ?? '']),
  );
}

export function Ledger(props: { userId: string; version: number }) {
  const api = useApi();
  const toast = useToast();
  const { t, fmt } = useI18n();
  const [kind, setKind] = createSignal('');
  const [from, setFrom] = createSignal('');
  const [to, setTo] = createSignal('');
  const [page, setPage] = createSignal(1);
  const query = () => ({ kind: kind() || undefined, ...rangeQuery(from(), to()) });
  const [ledger, { refetch }] = createResource(
    () => ({ ...query(), page: page(), pageSize: 20, v: props.version }),
    ({ v: _v, ...q }) => api.ledger(props.userId, q),
  );
  const exportCsv = () => withToast(toast, async () => downloadText(`statement-${props.userId}.csv`, await statementCsv(api, props.userId, query())));
  return (
    <section class="card">
      <div class="card-head">
        <h2>{t('person.ledger')}</h2>
        <button type="button" class="btn btn-small" onClick={() => void exportCsv()}>
          ⤓ {t('person.exportCsv')}
        </button>
      </div>
      <div class="filters">
        <select aria-label={t('person.kind')} value={kind()} onChange={(e) => (setKind(e.currentTarget.value), setPage(1))}>
          <option value="">{t('person.kind')}: {t('common.all')}</option>
          <For each={KINDS}>{(k) => <option value={k}>{t(`kind.${k}`)}</option>}</For>
        </select>
        <label class="inline">
          {t('common.from')} <input type="date" value={from()} onChange={(e) => (setFrom(e.currentTarget.value), setPage(1))} />
        </label>
        <label class="inline">
          {t('common.to')} <input type="date" value={to()} onChange={(e) => (setTo(e.currentTarget.value), setPage(1))} />
        </label>
      </div>
      <PagedTable
        data={ledger}
        retry={refetch}
        onPage={setPage}
        class="table compact ledger-table"
        head={
          <>
            <th>{t('common.date')}</th>
            <th>{t('person.kind')}</th>
            <th class="num">{t('person.amount')}</th>
            <th class="num hide-sm">{t('person.usd')}</th>
            <th class="hide-sm">{t('common.reason')}</th>
            <th class="hide-sm">{t('common.actor')}</th>
          </>
        }
      >
        {(e) => (
          <tr>
            <td class="nowrap">{fmt().dateTime(e.createdAt)}</td>
            <td>
              <span class={`kind kind-${e.kind}`}>{t(`kind.${e.kind}`)}</span> <OutcomeBadge outcome={e.outcome} />
            </td>
            <td class={`num ${e.amount < 0 ? 'neg' : 'pos'}`}>
              {e.amount > 0 ? '+' : ''}
              {fmt().exact(e.amount)}
            </td>
            <td class="num hide-sm muted">{e.usd === null ? '' : fmt().usd(e.usd)}</td>
            <td class="hide-sm ellipsis">{e.reasonCode ? <EntryReason entry={e} /> : (e.reason ?? '')}</td>
            <td class="hide-sm muted ellipsis">{e.actor}</td>
          </tr>
        )}
      </PagedTable>
    </section>
  );
}
