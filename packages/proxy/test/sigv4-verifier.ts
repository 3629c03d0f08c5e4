import aws4 from 'aws4';

export interface VerifyInput {
  method: string;
  /** The request target exactly as received (path and query, still percent-encoded). */
  url: string;
  rawHeaders: string[];
  body: Buffer;
}

export interface Verdict {
  valid: boolean;
  reason: string;
  signedHeaders: string[];
  credentialScope: string | null;
}

/**
 * Checks a SigV4 signature with an implementation independent of the proxy's signer (aws4):
 * recomputes the signature over the received method, target, signed headers and body with the
 * expected credentials, region and service, and compares.
 */
export function verifySigV4(
  input: VerifyInput,
  expected: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
    region: string;
    service: string;
  },
): Verdict {
  const headers: Record<string, string> = {};
  for (let i = 0; i < input.rawHeaders.length; i += 2) {
    const name = (input.rawHeaders[i] ?? '').toLowerCase();
    const value = input.rawHeaders[i + 1] ?? '';
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  const auth =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      headers.authorization ?? '',
    );
  if (!auth)
    return {
      valid: false,
      reason: 'no SigV4 Authorization header',
      signedHeaders: [],
      credentialScope: null,
    };
  const [, keyId, scope, signedList, signature] = auth;
  const signedHeaders = (signedList ?? '').split(';');
  const verdict = (valid: boolean, reason: string): Verdict => ({
    valid,
    reason,
    signedHeaders,
    credentialScope: scope ?? null,
  });
  if (keyId !== expected.accessKeyId) return verdict(false, 'unknown access key');
  const date = headers['x-amz-date'] ?? '';
  if (scope !== `${date.slice(0, 8)}/${expected.region}/${expected.service}/aws4_request`)
    return verdict(false, 'wrong credential scope');
  for (const required of ['host', 'x-amz-date'])
    if (!signedHeaders.includes(required)) return verdict(false, `${required} not signed`);
  if (expected.sessionToken !== undefined) {
    if (headers['x-amz-security-token'] !== expected.sessionToken)
      return verdict(false, 'missing session token');
    if (!signedHeaders.includes('x-amz-security-token'))
      return verdict(false, 'session token not signed');
  }
  const toSign: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headers[name];
    if (value === undefined) return verdict(false, `signed header ${name} missing`);
    toSign[name] = value;
  }
  const signer = new aws4.RequestSigner(
    {
      method: input.method,
      host: headers.host,
      path: input.url,
      service: expected.service,
      region: expected.region,
      headers: toSign,
      body: input.body,
      doNotModifyHeaders: true,
    },
    {
      accessKeyId: expected.accessKeyId,
      secretAccessKey: expected.secretAccessKey,
      sessionToken: expected.sessionToken,
    },
  );
  // The signing time is the request's own X-Amz-Date, not the verifier's clock.
  signer.datetime = date;
  const recomputed = signer.signature();
  return recomputed === signature ? verdict(true, 'ok') : verdict(false, 'signature mismatch');
}
