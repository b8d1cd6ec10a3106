export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Resend deduplicates sends with the same key (outbox retries never send twice). */
  idempotencyKey: string;
}

export interface Mailer {
  send(mail: OutgoingMail): Promise<{ id: string }>;
}

export class MailError extends Error {
  constructor(
    message: string,
    public readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'MailError';
  }
}

/**
 * Resend through its SDK (loaded only when configured); `baseUrl` lets tests point it at a local
 * capture server.
 */
export async function resendMailer(apiKey: string, baseUrl?: string): Promise<Mailer> {
  const { Resend } = await import('resend');
  const resend = new Resend(apiKey, baseUrl ? { baseUrl } : undefined);
  return {
    async send(m) {
      const { data, error } = await resend.emails.send(
        { from: m.from, to: m.to, subject: m.subject, text: m.text, html: m.html },
        { idempotencyKey: m.idempotencyKey },
      );
      if (error || !data) {
        const e = error as { message?: string; name?: string; statusCode?: number | null } | null;
        const status = e?.statusCode ?? 0;
        // 4xx other than 408/429 means the message itself is refused: retrying will not help.
        const retryable = !status || status >= 500 || status === 408 || status === 429;
        throw new MailError(`Resend refused the mail: ${e?.name ?? 'error'} ${e?.message ?? ''}`.trim(), retryable);
      }
      return { id: data.id };
    },
  };
}
