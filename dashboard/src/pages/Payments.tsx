import { A } from '@solidjs/router';
import { createResource, createSignal, For, Show } from 'solid-js';
import { useApi } from '../api/client';
import type { PaymentStatus } from '../api/types';
import { Badge } from '../components/Badge';
import { Empty } from '../components/Load';
import { PagedTable } from '../components/PagedTable';
import { useI18n } from '../i18n';
import { formatMinor } from '../lib/money';

const STATUSES: PaymentStatus[] = ['pending', 'paid', 'partially_refunded', 'refunded', 'expired', 'failed', 'needs_review', 'disputed'];
const tone = (s: PaymentStatus) => (s === 'paid' ? 'ok' : s === 'pending' || s === 'needs_review' ? 'warn' : s.includes('refunded') || s === 'disputed' ? 'bad' : 'muted');

export default function Payments() {
  const api = useApi();
  const { t, fmt, locale } = useI18n();
  const [status, setStatus] = createSignal('');
  const [page, setPage] = createSignal(1);
  const [summary] = createResource(() => api.paymentsSummary());
  const [list, { refetch }] = createResource(() => ({ status: status() || undefined, page: page(), pageSize: 50 }), (q) => api.payments(q));
  return (
    <div class="page">
      <h1>{t('payments.title')}</h1>
      <Show when={summary() && !summary()!.paymentsEnabled}>
        <p class="notice-inline muted">{t('payments.off')}</p>
      </Show>
      <div class="filters">
        <select aria-label={t('common.status')} value={status()} onChange={(e) => (setStatus(e.currentTarget.value), setPage(1))}>
          <option value="">{t('common.status')}: {t('common.all')}</option>
          <For each={STATUSES}>{(s) => <option value={s}>{t(`payStatus.${s}`)}</option>}</For>
        </select>
      </div>
      <section class="card flush">
        <PagedTable
          data={list}
          retry={refetch}
          empty={t('payments.empty')}
          onPage={setPage}
          testid="payments"
          head={
            <>
              <th>{t('payments.created')}</th>
              <th>{t('payments.person')}</th>
              <th class="hide-sm">{t('payments.pack')}</th>
              <th class="num">{t('payments.amount')}</th>
              <th>{t('common.status')}</th>
            </>
          }
        >
          {(p) => (
            <tr>
              <td class="nowrap">{fmt().dateTime(p.createdAt)}</td>
              <td>
                <A href={`/people/${p.userId}`}>{p.name}</A>
                <div class="muted small">{p.email}</div>
              </td>
              <td class="hide-sm">{p.packName} <span class="muted small">· {fmt().num(p.tokens)} {t('unit.tokens')}</span></td>
              <td class="num nowrap">
                {formatMinor(locale(), p.amountMinor, p.currency)}
                <Show when={p.refundedMinor > 0}>
                  <div class="muted small">−{formatMinor(locale(), p.refundedMinor, p.currency)}</div>
                </Show>
              </td>
              <td>
                <Badge tone={tone(p.status)}>{t(`payStatus.${p.status}`)}</Badge>
                <Show when={p.shortfallTokens > 0}>
                  <div class="small form-error">{t('payments.shortfall', { n: fmt().num(p.shortfallTokens) })}</div>
                </Show>
              </td>
            </tr>
          )}
        </PagedTable>
      </section>
    </div>
  );
}

/** Revenue this period per currency, for the Overview. */
export function RevenueCard() {
  const api = useApi();
  const { t, fmt, locale } = useI18n();
  const [summary] = createResource(() => api.paymentsSummary().catch(() => null));
  return (
    <Show when={summary()}>
      {(s) => (
        <Show when={s().paymentsEnabled || s().revenue.length}>
          <section class="card" data-testid="revenue">
            <div class="card-head">
              <h2>{t('payments.revenue')}</h2>
              <A href="/payments" class="small">{t('nav.payments')} →</A>
            </div>
            <Show when={s().revenue.length} fallback={<Empty>{t('payments.noRevenue')}</Empty>}>
              <div class="kpis">
                <For each={s().revenue}>
                  {(r) => (
                    <div class="kpi">
                      <span class="kpi-label">{r.currency.toUpperCase()} · {t('payments.count', { n: fmt().num(r.payments) })}</span>
                      <span class="kpi-value">{formatMinor(locale(), r.netMinor, r.currency)}</span>
                      <span class="kpi-sub">{t('payments.net')} · {t('payments.refunded')} {formatMinor(locale(), r.refundedMinor, r.currency)}</span>
                    </div>
                  )}
                </For>
              </div>
            </Show>
          </section>
        </Show>
      )}
    </Show>
  );
}
