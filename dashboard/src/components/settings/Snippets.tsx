import { createSignal } from 'solid-js';
import { useI18n } from '../../i18n';
import { CopyButton } from '../CopyButton';

const LITELLM_KEY = 'tcc.litellmUrl';

export function librechatYaml(litellmUrl: string): string {
  const base = litellmUrl.replace(/\/+$/, '');
  return `# librechat.yaml: LibreChat talks to LiteLLM directly; each person pastes their own key.
version: 1.2.1
endpoints:
  custom:
    - name: "LiteLLM"
      # "user_provided": every person enters the LiteLLM key the admin gave them
      # (for a single-user setup use an env reference instead, e.g. "\${LITELLM_USER_KEY}").
      apiKey: "user_provided"
      baseURL: "${base}/v1"
      models:
        default: ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "claude-haiku-4-5"]
        fetch: true
      titleConvo: true
      titleModel: "gpt-4o-mini"
      modelDisplayLabel: "LiteLLM"
# When a person's tokens run out (or the admin suspends them), LiteLLM with companion_callback.py
# answers with a message written for them, which LibreChat shows in the conversation: in their
# language, in tokens, what they used of what, the day the monthly allowance comes back and where
# to get more (PUBLIC_URL/me, or QUOTA_HELP_TEXT). HTTP 402, so the OpenAI SDK does not retry it.
`;
}

export function callbackSnippet(origin: string): string {
  return `# LiteLLM config.yaml (companion_callback.py mounted next to it)
litellm_settings:
  callbacks: companion_callback.proxy_handler_instance

# LiteLLM environment
COMPANION_WEBHOOK_URL=${origin.replace(/\/+$/, '')}/webhooks/litellm
WEBHOOK_SECRET=<same value as this service's WEBHOOK_SECRET>
COMPANION_SPOOL_PATH=/data/litellm-spool.sqlite3   # on a volume
# Refused chats are explained with this service's facts (GET /webhooks/litellm/person, same secret):
COMPANION_LOCALE=pt-BR   # language when this service cannot be reached (pt-BR or en)
`;
}

export function Snippets() {
  const { t } = useI18n();
  const saved = (() => {
    try {
      return localStorage.getItem(LITELLM_KEY);
    } catch {
      return null;
    }
  })();
  const [url, setUrl] = createSignal(saved ?? 'http://litellm:4000');
  const origin = typeof location === 'undefined' ? 'http://localhost:8787' : location.origin;
  return (
    <section class="card" id="snippets">
      <h2>{t('settings.librechat')}</h2>
      <label class="field">
        <span>{t('settings.litellmUrl')}</span>
        <input
          name="litellm-url"
          value={url()}
          onInput={(e) => {
            setUrl(e.currentTarget.value);
            try {
              localStorage.setItem(LITELLM_KEY, e.currentTarget.value);
            } catch {
              /* ignore */
            }
          }}
        />
      </label>
      <div class="snippet">
        <pre>{librechatYaml(url())}</pre>
        <CopyButton text={librechatYaml(url())} />
      </div>
      <p class="muted small" data-testid="refusal-note">{t('settings.refusalNote')}</p>
      <h2>{t('settings.litellm')}</h2>
      <div class="snippet">
        <pre>{callbackSnippet(origin)}</pre>
        <CopyButton text={callbackSnippet(origin)} />
      </div>
    </section>
  );
}
