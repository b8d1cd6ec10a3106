import type Stripe from 'stripe';
import type { Config } from '../config.js';

/**
 * The official Stripe SDK, or undefined when payments are off (both STRIPE_SECRET_KEY and
 * STRIPE_WEBHOOK_SECRET are needed). STRIPE_API_BASE points it at a local server in tests.
 * Loaded only when configured (a large module graph to keep resident for nothing).
 */
export async function createStripe(config: Pick<Config, 'STRIPE_SECRET_KEY' | 'STRIPE_WEBHOOK_SECRET' | 'STRIPE_API_BASE'>): Promise<Stripe | undefined> {
  if (!config.STRIPE_SECRET_KEY || !config.STRIPE_WEBHOOK_SECRET) return undefined;
  const base = config.STRIPE_API_BASE ? new URL(config.STRIPE_API_BASE) : undefined;
  const { default: StripeSdk } = await import('stripe');
  return new StripeSdk(config.STRIPE_SECRET_KEY, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    telemetry: false,
    ...(base
      ? { host: base.hostname, port: base.port || (base.protocol === 'https:' ? 443 : 80), protocol: base.protocol === 'https:' ? 'https' : 'http' }
      : {}),
  });
}

export type { Stripe };
