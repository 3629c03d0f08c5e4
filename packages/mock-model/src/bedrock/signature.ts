/**
 * Verifies the AWS SigV4 signature of a request the way Bedrock does, with an implementation
 * independent of the signer the proxy uses (`aws4` here, `@smithy/signature-v4` there): the
 * received method, raw path, query, signed headers and body are signed again with the expected
 * credentials and compared with the signature the request carries.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import aws4, { type Request as Aws4Request } from 'aws4';

export const BEDROCK_SERVICE = 'bedrock';

/** The credentials and region Bedrock requests must be signed with. */
export interface BedrockVerification {
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export interface SignedRequest {
  method: string;
  /** The request target exactly as received: percent-encoded path plus query. */
  rawPath: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type Verdict = { valid: true } | { valid: false; reason: string };

/** How far a request's `x-amz-date` may be from the mock's clock, as AWS allows. */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

const AUTH_SCHEME = 'AWS4-HMAC-SHA256';

interface Authorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

function parseAuthorization(header: string): Authorization | null {
  if (!header.startsWith(`${AUTH_SCHEME} `)) return null;
  const fields = new Map<string, string>();
  for (const part of header.slice(AUTH_SCHEME.length).split(',')) {
    const [key, ...value] = part.trim().split('=');
    if (key !== undefined) fields.set(key, value.join('='));
  }
  const scope = (fields.get('Credential') ?? '').split('/');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !signedHeaders || !signature) {
    return null;
  }
  const [accessKeyId = '', date = '', region = '', service = ''] = scope;
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function parseAmzDate(value: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return Number.NaN;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 0, h ?? 0, mi ?? 0, s ?? 0);
}

function sameHex(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The request target without a scheme and authority (absolute-form requests carry both). */
function originForm(rawPath: string): string {
  return rawPath.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '') || '/';
}

/** Checks a Bedrock request's SigV4 signature against the expected credentials and region. */
export function verifySignature(
  request: SignedRequest,
  expected: BedrockVerification,
  now: number,
): Verdict {
  const authorization = headerValue(request.headers, 'authorization');
  if (!authorization) return { valid: false, reason: 'no Authorization header' };
  const auth = parseAuthorization(authorization);
  if (!auth) return { valid: false, reason: 'Authorization is not AWS4-HMAC-SHA256' };
  if (auth.accessKeyId !== expected.credentials.accessKeyId) {
    return { valid: false, reason: 'unknown access key id' };
  }
  if (auth.region !== expected.region || auth.service !== BEDROCK_SERVICE) {
    return {
      valid: false,
      reason: `scope ${auth.region}/${auth.service} is not ${expected.region}/${BEDROCK_SERVICE}`,
    };
  }

  const amzDate = headerValue(request.headers, 'x-amz-date');
  if (!amzDate || !auth.date || !amzDate.startsWith(auth.date)) {
    return { valid: false, reason: 'x-amz-date missing or not the credential date' };
  }
  const signedAt = parseAmzDate(amzDate);
  if (!Number.isFinite(signedAt) || Math.abs(now - signedAt) > MAX_CLOCK_SKEW_MS) {
    return { valid: false, reason: 'x-amz-date outside the allowed clock skew' };
  }
  for (const required of ['host', 'x-amz-date']) {
    if (!auth.signedHeaders.includes(required))
      return { valid: false, reason: `${required} is not signed` };
  }

  const token = headerValue(request.headers, 'x-amz-security-token');
  const expectedToken = expected.credentials.sessionToken;
  if (expectedToken !== undefined) {
    if (token !== expectedToken) return { valid: false, reason: 'session token missing or wrong' };
    if (!auth.signedHeaders.includes('x-amz-security-token')) {
      return { valid: false, reason: 'session token is not signed' };
    }
  } else if (token !== undefined) {
    return { valid: false, reason: 'unexpected session token' };
  }

  const declaredHash = headerValue(request.headers, 'x-amz-content-sha256');
  if (declaredHash !== undefined) {
    const actualHash = createHash('sha256').update(request.body).digest('hex');
    if (declaredHash !== actualHash)
      return { valid: false, reason: 'x-amz-content-sha256 does not match the body' };
  }

  const headers: Record<string, string> = {};
  const include: Record<string, true> = {};
  for (const name of auth.signedHeaders) {
    const value = headerValue(request.headers, name);
    if (value === undefined) return { valid: false, reason: `signed header ${name} is missing` };
    headers[name] = value;
    include[name] = true;
  }

  // `extraHeadersToInclude` is an aws4 option its type definitions omit: it keeps signed headers
  // such as user-agent that aws4 would otherwise leave out of the canonical request.
  const signable: Aws4Request & { extraHeadersToInclude: Record<string, true> } = {
    method: request.method,
    path: originForm(request.rawPath),
    headers,
    body: request.body,
    service: BEDROCK_SERVICE,
    region: expected.region,
    doNotModifyHeaders: true,
    extraHeadersToInclude: include,
  };
  const signer = new aws4.RequestSigner(signable, {
    accessKeyId: expected.credentials.accessKeyId,
    secretAccessKey: expected.credentials.secretAccessKey,
  });
  signer.datetime = amzDate;
  if (!sameHex(signer.signature(), auth.signature)) {
    return { valid: false, reason: 'signature does not match' };
  }
  return { valid: true };
}
