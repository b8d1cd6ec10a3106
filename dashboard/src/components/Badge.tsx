import type { Alert, FailureOutcome, Key, PersonState } from '../api/types';
import { useI18n, type I18n } from '../i18n';

export function StateBadge(props: { state: PersonState }) {
  const { t } = useI18n();
  return <span class={`badge badge-${props.state}`}>{t(`state.${props.state}`)}</span>;
}

export function Badge(props: { tone?: 'ok' | 'warn' | 'bad' | 'muted'; children: string }) {
  return <span class={`badge badge-tone-${props.tone ?? 'muted'}`}>{props.children}</span>;
}

/** Next to a usage entry booked from a failed call that LiteLLM billed: interrupted, timed out, … */
export function OutcomeBadge(props: { outcome?: FailureOutcome | null }) {
  const { t } = useI18n();
  return (
    <>
      {props.outcome ? (
        <span class="badge badge-tone-warn outcome" title={t('outcome.hint')} data-testid="outcome">
          {t(`outcome.${props.outcome}`)}
        </span>
      ) : null}
    </>
  );
}

/** An alert threshold (`80%` unless given another label): bad from 100%, else warn. */
export function ThresholdBadge(props: { threshold: number; children?: string }) {
  return <Badge tone={props.threshold >= 100 ? 'bad' : 'warn'}>{props.children ?? `${props.threshold}%`}</Badge>;
}

export function KeyStatusBadge(props: { status: Key['status'] }) {
  const { t } = useI18n();
  const tone = () => (props.status === 'active' ? 'ok' : props.status === 'pending' ? 'warn' : 'bad');
  return <Badge tone={tone()}>{t(`key.${props.status}`)}</Badge>;
}

/** A mail's status, or an alert email's (`none`: no email was written). */
type MailStatus = Alert['emailStatus'];

/** The status in the reader's language. */
export function mailStatusText(t: I18n['t'], status: MailStatus): string {
  return t(`mailStatus.${status}`);
}

export function MailStatusBadge(props: { status: MailStatus }) {
  const { t } = useI18n();
  return <Badge tone={props.status === 'sent' ? 'ok' : props.status === 'failed' ? 'bad' : 'muted'}>{mailStatusText(t, props.status)}</Badge>;
}
