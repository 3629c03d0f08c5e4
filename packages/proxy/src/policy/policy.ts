import { WorkcellError } from '@workcell/protocol';
import { cidrContains, parseCidr, type Cidr } from '../net/cidr.js';
import { formatAuthority, type CanonicalHost } from '../net/host.js';
import type { IpAddress } from '../net/ip.js';
import {
  allowMatches,
  denyMatches,
  parseEgressPattern,
  patternWithin,
  type EgressPattern,
  type Transport,
} from './patterns.js';

/** What a container may reach besides the model routes. The default (empty) policy denies all. */
export interface EgressPolicy {
  readonly allow: readonly EgressPattern[];
  readonly deny: readonly EgressPattern[];
  /** Ranges allowed names may resolve to although they are private, loopback, link-local, ... */
  readonly allowPrivate: readonly Cidr[];
}

export const EMPTY_POLICY: EgressPolicy = { allow: [], deny: [], allowPrivate: [] };

/** Machine-readable denial reasons, sent as `X-Workcell-Egress-Denied` and kept in audit records. */
export type DenyReason =
  | 'denied-by-rule'
  | 'not-in-allowlist'
  | 'ip-literal-not-listed'
  | 'private-address'
  | 'resolve-failed';

export type PatternDecision =
  | { readonly allowed: true; readonly rule: string }
  | {
      readonly allowed: false;
      readonly reason: DenyReason;
      readonly rule: string | null;
      readonly message: string;
    };

/** Whether a range holds the unspecified address of its family (`0.0.0.0` or `::`). */
function containsUnspecified(range: Cidr): boolean {
  const zero: IpAddress = {
    family: range.family,
    bytes: new Uint8Array(range.bytes.length),
    text: range.family === 4 ? '0.0.0.0' : '::',
  };
  return cidrContains(range, zero);
}

/**
 * Parses `WORKCELL_EGRESS_ALLOW_PRIVATE`: comma-separated CIDRs or addresses. Refuses ranges
 * wider than /16, which would all but switch the private-address check off, and any range holding
 * the unspecified address (a connection to it reaches this host's own loopback services). Metadata addresses,
 * this host's own addresses and its container bridges are never unlocked by a range, only by
 * naming the exact address (see `net/resolve.ts`).
 */
export function parseCidrList(list: string, variable: string): Cidr[] {
  return list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const parsed = parseCidr(entry);
      if (!parsed)
        throw new WorkcellError(
          'validation_failed',
          `${variable}: "${entry}" is not a CIDR (e.g. 10.1.0.0/16)`,
          { variable, pattern: entry },
        );
      const minimum = 16;
      if (parsed.prefix < minimum) {
        throw new WorkcellError(
          'validation_failed',
          `${variable}: "${entry}" is too broad (at most /${minimum})`,
          { variable, pattern: entry },
        );
      }
      if (containsUnspecified(parsed))
        throw new WorkcellError(
          'validation_failed',
          `${variable}: "${entry}" contains the unspecified address (${parsed.family === 4 ? '0.0.0.0' : '::'}), which is never a destination`,
          { variable, pattern: entry },
        );
      return parsed;
    });
}

/**
 * A workspace's own, narrower list: each host pattern must lie inside one of the operator's
 * allow patterns (same port rule). The operator's deny list and private ranges still apply.
 * Throws a WorkcellError (`validation_failed`) naming the first host outside the list.
 */
export function narrowPolicy(operator: EgressPolicy, hosts: readonly string[]): EgressPolicy {
  const allow = hosts.map((host) => {
    const pattern = parseEgressPattern(host.trim(), 'egress hosts');
    if (!operator.allow.some((outer) => patternWithin(pattern, outer))) {
      throw new WorkcellError(
        'validation_failed',
        `egress hosts: "${pattern.text}" is outside the operator's WORKCELL_EGRESS_ALLOW list`,
        { pattern: pattern.text },
      );
    }
    return pattern;
  });
  return { allow, deny: operator.deny, allowPrivate: operator.allowPrivate };
}

/**
 * The host-pattern stage of a decision: deny rules first, then allow rules, default deny. The
 * address stage (resolution and ranges) follows in `resolveChecked`.
 */
export function decideHost(
  policy: EgressPolicy,
  host: CanonicalHost,
  port: number,
  transport: Transport,
): PatternDecision {
  const target = formatAuthority(host, port);
  const denied = policy.deny.find((p) => denyMatches(p, host.value, port));
  if (denied) {
    return {
      allowed: false,
      reason: 'denied-by-rule',
      rule: denied.text,
      message: `${target} matches the deny rule "${denied.text}"`,
    };
  }
  const allowed = policy.allow.find((p) => allowMatches(p, host.value, port, transport));
  if (allowed) return { allowed: true, rule: allowed.text };
  if (host.kind === 'ip') {
    return {
      allowed: false,
      reason: 'ip-literal-not-listed',
      rule: null,
      message: `${target} is an IP-literal destination and no allow rule lists it (default deny)`,
    };
  }
  return {
    allowed: false,
    reason: 'not-in-allowlist',
    rule: null,
    message: `no allow rule matches ${target} (default deny)`,
  };
}

/** The policy as pattern text, for `GET /v1/workspaces/:wid/egress`. */
export function describePolicy(policy: EgressPolicy): {
  allow: string[];
  deny: string[];
  allowPrivate: string[];
} {
  return {
    allow: policy.allow.map((p) => p.text),
    deny: policy.deny.map((p) => p.text),
    allowPrivate: policy.allowPrivate.map((c) => c.text),
  };
}
