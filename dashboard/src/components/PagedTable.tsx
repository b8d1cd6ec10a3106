import { Show, untrack, type Accessor, type JSX, type Resource } from 'solid-js';
import type { Paged } from '../api/types';
import { DataTable } from './DataTable';
import { Empty, Load } from './Load';
import { Pager } from './Pager';

interface PagedProps<T> {
  /** The page resource; its latest page stays shown (dimmed) while the next one loads. */
  data: Resource<Paged<T>>;
  retry?: () => void;
  /** Text when the page is empty; the default empty text when left out. */
  empty?: JSX.Element;
  onPage: (page: number) => void;
}

/** Loading/error/empty states, the page's items (rendered by `children`), then the pager. */
export function PagedList<T>(props: PagedProps<T> & { children: (items: Accessor<T[]>) => JSX.Element }) {
  return (
    <Load retry={props.retry}>
      <Show when={props.data.latest}>
        {(res) => (
          <Show when={res().items.length} fallback={<Empty>{props.empty}</Empty>}>
            {untrack(() => props.children(() => res().items))}
            <Pager page={res().page} pageSize={res().pageSize} total={res().total} onPage={props.onPage} />
          </Show>
        )}
      </Show>
    </Load>
  );
}

/** A paged list as a table: header cells and a row renderer (returning the `<tr>`). */
export function PagedTable<T>(props: PagedProps<T> & { head?: JSX.Element; class?: string; testid?: string; children: (item: T) => JSX.Element }) {
  return (
    <PagedList data={props.data} retry={props.retry} empty={props.empty} onPage={props.onPage}>
      {(items) => (
        <DataTable items={items()} head={props.head} class={props.class} testid={props.testid} stale={props.data.loading}>
          {props.children}
        </DataTable>
      )}
    </PagedList>
  );
}
