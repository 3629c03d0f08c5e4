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

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/**
 * SHA-256 and HMAC-SHA-256 on node:crypto, in the shape the Smithy signer takes (a `sha256`
 * constructor; with a secret it is an HMAC). The pure-JS default is many times slower on
 * request bodies.
 */
export class NodeSha256 {
  private readonly secret: Buffer | undefined;
  private hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : toBuffer(secret);
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }

  update(data: Uint8Array): void {
    this.hash.update(data);
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }

  digestSync(): Uint8Array {
    return new Uint8Array(this.hash.digest());
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

/**
 * A SigV4 signer for Bedrock: service `bedrock`, the path escaped once more as AWS expects for
 * every service but S3, and the payload hash computed over the body as forwarded (no
 * `x-amz-content-sha256` header, so the verifier hashes the bytes it receives).
 */
export function createBedrockSigner(region: string, credentials: AwsCredentialsProvider): SignatureV4 {
  return new SignatureV4({
    service: 'bedrock',
    region,
    credentials,
    sha256: NodeSha256,
    uriEscapePath: true,
    applyChecksum: false,
  });
}
