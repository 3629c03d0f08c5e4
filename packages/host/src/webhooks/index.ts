export {
  DISPATCH_DEFAULTS,
  WebhookDispatcher,
  retryDelayMs,
  type DispatcherSettings,
  type WebhookObserver,
} from './dispatcher.js';
export {
  WebhookEndpointStore,
  MAX_ENDPOINTS_PER_TENANT,
  type WebhookEndpoint,
} from './endpoint-store.js';
export {
  WebhookPublisher,
  OPERATOR_ENDPOINT_ID,
  type OperatorEndpoint,
  type WebhookEvents,
} from './publisher.js';
export { WebhookRegistry } from './registry.js';
export { isSigningSecret, newSigningSecret, signDelivery } from './signature.js';
export {
  checkedAddresses,
  parseWebhookUrl,
  systemLocalAddresses,
  systemWebhookResolver,
  WEBHOOK_RESOLVE_TIMEOUT_MS,
  type AddressPolicy,
  type WebhookResolver,
} from './url-policy.js';
