import type { PersonState } from '../api/types';
import { useI18n, type MessageKey } from '../i18n';

export function StateBadge(props: { state: PersonState }) {
  const { t } = useI18n();
  return <span class={`badge badge-${props.state}`}>{t(`state.${props.state}` as MessageKey)}</span>;
}

export function Badge(props: { tone?: 'ok' | 'warn' | 'bad' | 'muted'; children: string }) {
  return <span class={`badge badge-tone-${props.tone ?? 'muted'}`}>{props.children}</span>;
}
