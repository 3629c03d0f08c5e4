import {
  createWebhookBody,
  createdWebhookSchema,
  errorResponseSchema,
  webhookListSchema,
} from '@workcell/protocol';
import { z } from 'zod';
import { op, idParam } from './operation.js';

/** The tenant's webhook endpoints. */
export const webhookOps = {
  createWebhook: op({
    id: 'createWebhook',
    method: 'POST',
    path: '/v1/webhooks',
    summary: 'Register a webhook endpoint for run ends and workspace deletions',
    description:
      'Deliveries follow Standard Webhooks: a JSON POST (`WebhookPayload`) with `webhook-id` (the same on every ' +
      'attempt), `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` ' +
      "keyed by the secret's base64 part), retried with exponential backoff until a 2xx. The URL must be http(s) " +
      'and reach only public addresses (unless the operator set `WORKCELL_WEBHOOK_ALLOW_PRIVATE=true`); ' +
      'metadata addresses are always refused. The secret is answered here only.',
    tag: 'webhooks',
    auth: 'bearer',
    body: createWebhookBody,
    responses: {
      201: { description: 'registered; `secret` is shown this once', schema: createdWebhookSchema },
      400: {
        description:
          '`webhook_url_invalid` (not an absolute http(s) URL, credentials or a fragment in it), ' +
          '`webhook_url_forbidden` (a private, loopback, link-local, metadata or unresolvable host) or `validation_failed`',
        schema: errorResponseSchema,
      },
      409: { description: '`conflict`: the tenant has 20 endpoints', schema: errorResponseSchema },
    },
  }),
  listWebhooks: op({
    id: 'listWebhooks',
    method: 'GET',
    path: '/v1/webhooks',
    summary: "The tenant's webhook endpoints (never their secrets)",
    tag: 'webhooks',
    auth: 'bearer',
    responses: { 200: { description: 'the endpoints', schema: webhookListSchema } },
  }),
  deleteWebhook: op({
    id: 'deleteWebhook',
    method: 'DELETE',
    path: '/v1/webhooks/:id',
    summary: 'Remove a webhook endpoint; deliveries still queued for it are dropped',
    tag: 'webhooks',
    auth: 'bearer',
    params: z.object({ id: idParam('webhook') }),
    responses: { 204: { description: 'removed' } },
  }),
} as const;
