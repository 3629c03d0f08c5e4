import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { DirectoryObjectStore } from '../../src/storage/directory-store.js';
import * as layout from '../../src/storage/layout.js';
import {
  WebhookEndpointStore,
  newWebhookId,
  type WebhookEndpoint,
} from '../../src/webhooks/endpoint-store.js';
import { newSigningSecret } from '../../src/webhooks/signature.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function objects(): DirectoryObjectStore {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-webhook-endpoints-'));
  dirs.push(dir);
  return new DirectoryObjectStore({ root: dir });
}

function endpoint(tenant: string): WebhookEndpoint {
  return {
    id: newWebhookId(),
    tenant,
    url: 'https://hooks.example.com/in',
    events: ['run.completed'],
    secret: newSigningSecret(),
    createdAt: new Date().toISOString(),
  };
}

const key = (): string => randomBytes(32).toString('base64');

describe('webhook endpoint records', () => {
  it('seal the signing secret with the secrets key: the stored bytes hold no secret, find opens it', async () => {
    const store = objects();
    const endpoints = new WebhookEndpointStore(store, new SecretCipher(key()));
    const e = endpoint('acme');
    await endpoints.create(e);

    const raw = (await store.getBuffer(layout.webhookKey('acme', e.id)))!.toString('utf8');
    expect(raw).not.toContain(e.secret);
    expect(raw).not.toContain(e.secret.replace(/^whsec_/, ''));
    expect(JSON.parse(raw)).toMatchObject({ sealedSecret: { alg: 'AES-256-GCM' } });
    expect(await endpoints.find('acme', e.id)).toEqual(e);
    expect(await endpoints.list('acme')).toEqual([
      { id: e.id, tenant: 'acme', url: e.url, events: e.events, createdAt: e.createdAt },
    ]);
  });

  it('refuse a sealed record copied under another id or tenant, or opened with another key', async () => {
    const store = objects();
    const k = key();
    const endpoints = new WebhookEndpointStore(store, new SecretCipher(k));
    const e = endpoint('acme');
    await endpoints.create(e);
    const raw = (await store.getBuffer(layout.webhookKey('acme', e.id)))!;

    // Someone with write access to the store moves the record to make it sign for them.
    const moved = { ...(JSON.parse(raw.toString('utf8')) as object), id: newWebhookId() };
    const movedId = (moved as { id: string }).id;
    await store.put(layout.webhookKey('acme', movedId), Buffer.from(JSON.stringify(moved)));
    await expect(endpoints.find('acme', movedId)).rejects.toMatchObject({ code: 'internal' });

    const otherTenant = { ...(JSON.parse(raw.toString('utf8')) as object), tenant: 'evil' };
    await store.put(layout.webhookKey('evil', e.id), Buffer.from(JSON.stringify(otherTenant)));
    await expect(endpoints.find('evil', e.id)).rejects.toMatchObject({ code: 'internal' });
    // Copied as it is, the record names its own tenant: it is not listed for another.
    await store.put(layout.webhookKey('evil', movedId), raw);
    await expect(endpoints.find('evil', movedId)).rejects.toMatchObject({ code: 'internal' });

    const otherKey = new WebhookEndpointStore(store, new SecretCipher(key()));
    await expect(otherKey.find('acme', e.id)).rejects.toMatchObject({ code: 'internal' });
    const noKey = new WebhookEndpointStore(store);
    await expect(noKey.find('acme', e.id)).rejects.toThrow(/WORKCELL_SECRETS_KEY/);
    // The original still opens with its key.
    expect((await endpoints.find('acme', e.id))?.secret).toBe(e.secret);
  });

  it('store the secret plain without a key, and read such records once a key is set', async () => {
    const store = objects();
    const e = endpoint('acme');
    await new WebhookEndpointStore(store).create(e);
    const raw = (await store.getBuffer(layout.webhookKey('acme', e.id)))!.toString('utf8');
    expect(raw).toContain(e.secret);
    const keyed = new WebhookEndpointStore(store, new SecretCipher(key()));
    expect(await keyed.find('acme', e.id)).toEqual(e);
  });
});
