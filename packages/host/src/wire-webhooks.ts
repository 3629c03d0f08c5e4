import type { Logger } from 'pino';
import type { ResolvedConfig } from './config/load.js';
import type { WorkcellMetrics } from './metrics/metrics.js';
import type { SecretCipher } from './secrets/cipher.js';
import { type Clock } from './time/clock.js';
import {
  DISPATCH_DEFAULTS,
  parseWebhookUrl,
  systemLocalAddresses,
  systemWebhookResolver,
  WEBHOOK_RESOLVE_TIMEOUT_MS,
  WebhookDispatcher,
  WebhookEndpointStore,
  WebhookPublisher,
  type AddressPolicy,
  type WebhookResolver,
} from './webhooks/index.js';
import type { StateStore } from './state/state-store.js';
import type { ObjectStore } from './storage/object-store.js';

/** Builds the webhook endpoints, their URL policy, the outbox's dispatcher and publisher. */
export function wireWebhooks(
  config: ResolvedConfig,
  deps: {
    state: StateStore;
    objects: ObjectStore;
    clock: Clock;
    log: (component: string) => Logger;
    secretCipher: SecretCipher | null;
    metrics: WorkcellMetrics;
    /** A test's DNS for webhook hosts. */
    resolver: WebhookResolver | null;
  },
) {
  const { state, objects, clock, log, secretCipher, metrics } = deps;
  const { hostId } = config;
  if (config.webhookUrl) parseWebhookUrl(config.webhookUrl);
  const webhookPolicy: AddressPolicy = {
    allowPrivate: config.webhookAllowPrivate,
    resolve: deps.resolver ?? systemWebhookResolver,
    localAddresses: systemLocalAddresses,
    resolveTimeoutMs: WEBHOOK_RESOLVE_TIMEOUT_MS,
  };
  const webhookEndpoints = new WebhookEndpointStore(objects, secretCipher);
  const operatorWebhook =
    config.webhookUrl && config.webhookSecret
      ? { url: config.webhookUrl, secret: config.webhookSecret }
      : null;
  const dispatcher = new WebhookDispatcher({
    state,
    endpoints: webhookEndpoints,
    operator: operatorWebhook,
    policy: webhookPolicy,
    clock,
    logger: log('webhooks'),
    hostId,
    userAgent: `Workcell-Webhooks/${config.version}`,
    observer: metrics,
    settings: {
      ...DISPATCH_DEFAULTS,
      timeoutMs: config.webhookTimeoutMs,
      maxAttempts: config.webhookMaxAttempts,
      retryBaseMs: config.webhookRetryBaseMs,
    },
  });
  const webhooks = new WebhookPublisher({
    endpoints: webhookEndpoints,
    state,
    clock,
    operator: operatorWebhook,
    onEnqueued: () => dispatcher.kick(),
  });
  return { webhookPolicy, webhookEndpoints, dispatcher, webhooks };
}
