import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

/** AWS credentials as the SDK's providers return them. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** The AWS SDK's credential provider shape (`fromNodeProviderChain()` is one). */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

type SourceData = string | ArrayBuffer | ArrayBufferView;

function keyOf(secret: SourceData): string | Uint8Array {
  if (typeof secret === 'string') return secret;
  if (ArrayBuffer.isView(secret))
    return new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength);
  return new Uint8Array(secret);
}

/**
 * SHA-256 and HMAC-SHA-256 on node:crypto, in the shape the Smithy signer takes (a `sha256`
 * constructor; with a secret it is an HMAC). The pure-JS default is many times slower on
 * request bodies. Digests are Buffers (Uint8Arrays), returned without a copy.
 */
export class NodeSha256 {
  private readonly secret: string | Uint8Array | undefined;
  private hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : keyOf(secret);
    this.hash =
      this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }

  update(data: Uint8Array): void {
    this.hash.update(data);
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }

  reset(): void {
    this.hash =
      this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
}

/**
 * A SigV4 signer for Bedrock: service `bedrock`, the path escaped once more as AWS expects for
 * every service but S3, and the payload hash computed over the body as forwarded (no
 * `x-amz-content-sha256` header, so the verifier hashes the bytes it receives).
 */
export function createBedrockSigner(
  region: string,
  credentials: AwsCredentialsProvider,
): SignatureV4 {
  return new SignatureV4({
    service: 'bedrock',
    region,
    credentials,
    sha256: NodeSha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
}
