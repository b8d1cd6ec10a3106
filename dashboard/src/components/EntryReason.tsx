import { useI18n, type MessageKey } from '../i18n';

/**
 * What a statement line is, in the reader's language when the service gave it a code
 * (`reasonCode`, e.g. a Stripe dispute), else the reason as written; usage lines say nothing more.
 */
export function EntryReason(props: { entry: { kind: string; reason: string | null; reasonCode?: string | null } }) {
  const { t } = useI18n();
  const code = () => props.entry.reasonCode;
  return (
    <span title={props.entry.reason ?? undefined}>
      {props.entry.kind === 'usage' ? '' : code() ? t(`reason.${code()}` as MessageKey) : (props.entry.reason ?? '')}
    </span>
  );
}
