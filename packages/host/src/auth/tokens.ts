import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Who a request acts for. */
export interface Principal {
  tenant: string;
  admin: boolean;
}

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/**
 * Maps bearer tokens to tenants. Tokens are compared as SHA-256 digests with
 * `timingSafeEqual`, against every known token, so timing reveals neither a match nor a
 * prefix. Tokens are never logged.
 */
export class TokenAuthenticator {
  private readonly entries: { digest: Buffer; tenant: string; admin: boolean }[];

  constructor(tokens: ReadonlyMap<string, string>, adminTokens: ReadonlySet<string> = new Set()) {
    this.entries = [...tokens].map(([token, tenant]) => ({
      digest: digest(token),
      tenant,
      admin: adminTokens.has(token),
    }));
    for (const token of adminTokens) {
      if (!tokens.has(token))
        this.entries.push({ digest: digest(token), tenant: 'admin', admin: true });
    }
  }

  /** The principal for an `Authorization` header value, or null. */
  authenticate(header: string | undefined): Principal | null {
    if (!header) return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) return null;
    return this.authenticateToken(match[1]);
  }

  /** The principal for a bare token (the `access_token` query parameter of EventSource clients), or null. */
  authenticateToken(token: string): Principal | null {
    if (!token) return null;
    const presented = digest(token);
    let found: Principal | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, presented) && !found)
        found = { tenant: entry.tenant, admin: entry.admin };
    }
    return found;
  }
}

/**
 * The configured API tokens, or, when none are, one generated for the tenant `local` (shown
 * once, in the banner).
 */
export function tokensOrGenerated(configured: ReadonlyMap<string, string> | null | undefined): {
  tokens: Map<string, string>;
  generatedToken: string | null;
} {
  if (configured && configured.size > 0)
    return { tokens: new Map(configured), generatedToken: null };
  const generatedToken = `wc_${randomBytes(24).toString('base64url')}`;
  return { tokens: new Map([[generatedToken, 'local']]), generatedToken };
}
