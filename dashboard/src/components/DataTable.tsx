import { For, Show, type JSX } from 'solid-js';

/** `.table-wrap > table`: optional header cells, one row per item (the row renderer returns the `<tr>`). */
export function DataTable<T>(props: {
  items: readonly T[];
  children: (item: T) => JSX.Element;
  /** Header cells (`<th>`s), wrapped in `<thead><tr>`; none when left out. */
  head?: JSX.Element;
  /** The table's classes; `table` by default. */
  class?: string;
  testid?: string;
  /** Dimmed while a newer page loads. */
  stale?: boolean;
  /** Scroll vertically inside a capped height. */
  scroll?: boolean;
}) {
  return (
    <div class="table-wrap" classList={{ 'scroll-y': !!props.scroll, stale: !!props.stale }}>
      <table class={props.class ?? 'table'} data-testid={props.testid}>
        <Show when={props.head}>
          {(head) => (
            <thead>
              <tr>{head()}</tr>
            </thead>
          )}
        </Show>
        <tbody>
          <For each={props.items}>{(item) => props.children(item)}</For>
        </tbody>
      </table>
    </div>
  );
}
