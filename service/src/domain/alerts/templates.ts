import { nextPeriod } from '../../lib/period.js';

export type Locale = 'pt-BR' | 'en';

export interface AlertMailInput {
  locale: Locale;
  name: string;
  thresholdPercent: number;
  percentUsed: number;
  usedCredits: number;
  remainingCredits: number;
  period: string;
  projectedExhaustion: Date | null;
  timeZone: string;
  adminEmail: string;
}

export interface MailContent {
  subject: string;
  text: string;
  html: string;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Threshold emails, Portuguese by default. Subject and body say what happened and what to do. */
export function alertMail(m: AlertMailInput): MailContent {
  const num = new Intl.NumberFormat(m.locale, { maximumFractionDigits: 0 });
  const pct = new Intl.NumberFormat(m.locale, { maximumFractionDigits: 1 });
  const day = (d: Date) => new Intl.DateTimeFormat(m.locale, { timeZone: m.timeZone, day: '2-digit', month: 'long', year: 'numeric' }).format(d);
  const renews = day(new Date(`${nextPeriod(m.period)}T12:00:00Z`));
  const used = num.format(m.usedCredits);
  const remaining = num.format(Math.max(0, m.remainingCredits));
  const projected = m.projectedExhaustion ? day(m.projectedExhaustion) : null;
  const pt = m.locale === 'pt-BR';
  let subject: string;
  let lines: string[];
  if (m.thresholdPercent >= 100) {
    subject = pt ? 'Seus tokens acabaram: o chat está pausado' : 'You are out of tokens: chat is paused';
    lines = pt
      ? [
          `Olá, ${m.name}.`,
          `Você usou 100% dos tokens disponíveis neste período (${used} tokens). Saldo: ${remaining} tokens.`,
          'Novas mensagens no chat serão recusadas (erro "budget_exceeded") até que você receba mais créditos.',
          `O que fazer: peça uma recarga ao administrador (${m.adminEmail}). Seus tokens mensais renovam em ${renews}.`,
        ]
      : [
          `Hello ${m.name},`,
          `You have used 100% of the tokens available this period (${used} tokens). Balance: ${remaining} tokens.`,
          'New chat messages will be refused (error "budget_exceeded") until you receive more credits.',
          `What to do: ask your administrator (${m.adminEmail}) for a top-up. Your monthly tokens renew on ${renews}.`,
        ];
  } else {
    subject = pt ? `Você usou ${m.thresholdPercent}% dos seus tokens` : `You have used ${m.thresholdPercent}% of your tokens`;
    const when = projected
      ? pt
        ? `No ritmo atual, seus tokens devem acabar por volta de ${projected}.`
        : `At your current pace, your tokens should run out around ${projected}.`
      : pt
        ? 'Não há uso recente suficiente para estimar quando seus tokens acabam.'
        : 'There is not enough recent usage to project when your tokens run out.';
    lines = pt
      ? [
          `Olá, ${m.name}.`,
          `Você já usou ${pct.format(m.percentUsed)}% dos tokens disponíveis neste período (${used} tokens). Restam ${remaining} tokens.`,
          when,
          `Ao chegar a 100%, o chat será pausado até a renovação em ${renews} ou uma recarga (fale com ${m.adminEmail}).`,
        ]
      : [
          `Hello ${m.name},`,
          `You have used ${pct.format(m.percentUsed)}% of the tokens available this period (${used} tokens). ${remaining} tokens remain.`,
          when,
          `At 100% chat pauses until your tokens renew on ${renews} or you get a top-up (ask ${m.adminEmail}).`,
        ];
  }
  return {
    subject,
    text: lines.join('\n\n'),
    html: `<!doctype html><html><body style="font-family:sans-serif">${lines.map((l) => `<p>${escape(l)}</p>`).join('')}</body></html>`,
  };
}
