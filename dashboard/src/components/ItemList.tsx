import { For, Show, type JSX } from 'solid-js';
import { Empty } from './Load';

/** A `ul.alert-list`, one `<li>` per item, or the empty state (`empty`, else the default text). */
export function ItemList<T>(props: { items: readonly T[]; empty?: JSX.Element; children: (item: T) => JSX.Element }) {
  return (
    <Show when={props.items.length} fallback={<Empty>{props.empty}</Empty>}>
      <ul class="alert-list">
        <For each={props.items}>{(item) => <li>{props.children(item)}</li>}</For>
      </ul>
    </Show>
  );
}
