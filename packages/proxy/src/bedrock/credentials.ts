import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialsProvider } from './signer.js';

/**
 * The AWS SDK's default credential chain (environment, shared files, SSO, web identity, ECS and
 * EC2 metadata), memoised and refreshed before expiry. Only the proxy and the S3 client read it.
 */
export function defaultAwsCredentials(): AwsCredentialsProvider {
  return fromNodeProviderChain();
}

/** Bedrock's runtime endpoint for a region (`WORKCELL_BEDROCK_UPSTREAM`'s default). */
export function defaultBedrockUpstream(region: string): URL {
  return new URL(`https://bedrock-runtime.${region}.amazonaws.com`);
}
