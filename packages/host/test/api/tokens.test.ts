import type * as Crypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';

// Counts every constant-time comparison the authenticator makes.
const compared = vi.hoisted(() => ({ count: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof Crypto>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.count += 1;
      return actual.timingSafeEqual(a, b);
    },
  };
});

const { TokenAuthenticator } = await import('../../src/auth/tokens.js');

const tokens = new Map([
  ['first-token-0123456789', 'tenant-a'],
  ['second-token-012345678', 'tenant-b'],
  ['third-token-0123456789', 'tenant-c'],
]);
const auth = new TokenAuthenticator(
  tokens,
  new Set(['third-token-0123456789', 'ops-only-token-012345']),
);

afterEach(() => {
  compared.count = 0;
});

describe('TokenAuthenticator', () => {
  it('maps a bearer token to its tenant', () => {
    expect(auth.authenticate('Bearer first-token-0123456789')).toEqual({
      tenant: 'tenant-a',
      admin: false,
    });
    expect(auth.authenticate('bearer second-token-012345678')).toEqual({
      tenant: 'tenant-b',
      admin: false,
    });
  });

  it('refuses a missing, malformed, unknown or prefix-only token', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Basic Zmlyc3Q=',
      'first-token-0123456789',
      'Bearer first-token',
      'Bearer first-token-01234567890',
      'Bearer a b',
    ]) {
      expect(auth.authenticate(header)).toBeNull();
    }
    expect(auth.authenticateToken('')).toBeNull();
  });

  it('compares against every known token whether or not one matches, in constant time', () => {
    auth.authenticate('Bearer first-token-0123456789');
    const onMatchFirst = compared.count;
    compared.count = 0;
    auth.authenticate('Bearer nothing-like-any-token');
    const onMiss = compared.count;
    expect(onMatchFirst).toBe(4);
    expect(onMiss).toBe(4);
  });

  it('marks admin tokens; an admin token that is not a tenant token acts for tenant admin', () => {
    expect(auth.authenticate('Bearer third-token-0123456789')).toEqual({
      tenant: 'tenant-c',
      admin: true,
    });
    expect(auth.authenticate('Bearer ops-only-token-012345')).toEqual({
      tenant: 'admin',
      admin: true,
    });
  });

  it('authenticates a bare token the same way (EventSource access_token)', () => {
    expect(auth.authenticateToken('second-token-012345678')).toEqual({
      tenant: 'tenant-b',
      admin: false,
    });
    expect(auth.authenticateToken('second-token-01234567')).toBeNull();
  });
});
