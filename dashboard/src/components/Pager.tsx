import { Show } from 'solid-js';
import { useI18n } from '../i18n';

export function pageCount(total: number, pageSize: number): number {
  return Math.max(1, Math.ceil(total / Math.max(1, pageSize)));
}

export function Pager(props: { page: number; pageSize: number; total: number; onPage: (p: number) => void }) {
  const { t, fmt } = useI18n();
  const pages = () => pageCount(props.total, props.pageSize);
  return (
    <div class="pager">
      <span class="muted">{t('common.total', { n: fmt().num(props.total) })}</span>
      <Show when={pages() > 1}>
        <div class="pager-buttons">
          <button type="button" class="btn btn-small" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
            ‹ {t('common.prev')}
          </button>
          <span>{t('common.page', { page: fmt().num(props.page), pages: fmt().num(pages()) })}</span>
          <button type="button" class="btn btn-small" disabled={props.page >= pages()} onClick={() => props.onPage(props.page + 1)}>
            {t('common.next')} ›
          </button>
        </div>
      </Show>
    </div>
  );
}
