import type { Locale, MailContent } from '../alerts/templates.js';

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The sign-in link email (Portuguese by default). */
export function loginMail(m: { locale: Locale; name: string; link: string; minutes: number }): MailContent {
  const pt = m.locale === 'pt-BR';
  const subject = pt ? 'Seu link para entrar no portal de tokens' : 'Your sign-in link for the token portal';
  const lines = pt
    ? [`Olá, ${m.name}.`, `Use este link para ver seu saldo, seu uso e comprar mais tokens. Ele vale por ${m.minutes} minutos e funciona uma única vez:`, m.link, 'Se não foi você quem pediu, ignore este e-mail.']
    : [`Hello ${m.name},`, `Use this link to see your balance and usage and to buy more tokens. It is valid for ${m.minutes} minutes and works once:`, m.link, 'If you did not ask for it, ignore this email.'];
  const html = lines.map((l) => (l === m.link ? `<p><a href="${escape(l)}">${escape(l)}</a></p>` : `<p>${escape(l)}</p>`)).join('');
  return { subject, text: lines.join('\n\n'), html: `<!doctype html><html><body style="font-family:sans-serif">${html}</body></html>` };
}
