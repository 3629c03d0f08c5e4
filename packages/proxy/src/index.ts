export {
  CredentialProxy,
  type CredentialProxyOptions,
  type EgressListener,
} from './listener/proxy.js';
export {
  DEFAULT_ANTHROPIC_OPERATIONS,
  parseAnthropicOperations,
  type AnthropicOperation,
} from './routes/anthropic-operations.js';
export { DEFAULT_LIMITS, type ProxyLimits } from './limits/limits.js';
export { checkSocketDirectory } from './net/socket-dir.js';
export type { AuditReason, AuditRecord, Identity } from './audit/audit.js';
export {
  EMPTY_POLICY,
  decideHost,
  describePolicy,
  narrowPolicy,
  parseCidrList,
  type DenyReason,
  type EgressPolicy,
  type PatternDecision,
} from './policy/policy.js';
export {
  parseEgressPattern,
  parseEgressPatterns,
  type EgressPattern,
  type Transport,
} from './policy/patterns.js';
export {
  canonicalHost,
  parseAuthority,
  TargetRefusal,
  type Authority,
  type CanonicalHost,
} from './net/host.js';
export { classifyAddress, type AddressClass } from './net/classify.js';
export { parseCidr, type Cidr } from './net/cidr.js';
export { parseIpAddress, type IpAddress } from './net/ip.js';
export { resolveChecked, withTimeout, type Resolver } from './net/resolve.js';
export { DENIED_HEADER, type RefusalReason } from './http/responses.js';
export {
  createBedrockSigner,
  type AwsCredentials,
  type AwsCredentialsProvider,
} from './bedrock/signer.js';
export { defaultAwsCredentials, defaultBedrockUpstream } from './bedrock/credentials.js';
export {
  applySecrets,
  isBoundHost,
  renderFormat,
  NO_SECRETS,
  type SecretBinding,
  type SecretOutcome,
  type SecretSource,
} from './secrets/secrets.js';
export { loadOrCreateCa, CA_FILES, type CaPaths, type WorkcellCa } from './tls/ca.js';
export { loadUpstreamTrust } from './tls/trust.js';
export type { InterceptionOptions } from './tls/options.js';
export { proxyProcessCommand, type ProxyProcessCommand } from './process/command.js';
export { ProxyWorker } from './process/worker.js';
export type {
  ChildMessage,
  ListenerState,
  ParentMessage,
  ProxyInit,
  ProxyRequest,
  WireSecret,
} from './process/messages.js';
