import { A } from '@solidjs/router';
import { useI18n } from '../i18n';

export default function NotFound() {
  const { t } = useI18n();
  return (
    <div class="state state-empty">
      {t('notFound')} <A href="/">{t('nav.overview')}</A>
    </div>
  );
}
