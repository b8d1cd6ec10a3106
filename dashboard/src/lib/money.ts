/** Minor units → a price in the currency's own exponent (2 for BRL/USD/EUR, 0 for JPY). */
export function formatMinor(locale: string, minor: number, currency: string): string {
  const nf = new Intl.NumberFormat(locale, { style: 'currency', currency: currency.toUpperCase() });
  return nf.format(minor / 10 ** (nf.resolvedOptions().maximumFractionDigits ?? 2));
}
