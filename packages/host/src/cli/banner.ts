import type { ResolvedConfig } from '../config/load.js';
import { withoutPassword } from '../state/redis-url.js';

export interface BannerFacts {
  url: string;
  mockModelUrl: string | null;
  /** The API token generated at start (none when WORKCELL_API_TOKENS is set). */
  generatedToken: string | null;
  objects: string;
  state: 'redis' | 'memory' | string;
}

/**
 * The lines `workcell serve` prints once it listens. A generated API token appears here, once,
 * and nowhere else: the logger redacts it.
 */
export function formatBanner(config: ResolvedConfig, facts: BannerFacts): string {
  const lines = [
    `Workcell ${config.version} listening on ${facts.url}`,
    `  state store:   ${facts.state === 'redis' ? `redis (${withoutPassword(config.redisUrl ?? '')})` : 'in-process memory'}`,
    `  object store:  ${facts.objects}`,
    `  containers:    docker, image ${config.image}, runtime ${config.runtime}, warm pool ${config.warmPoolSize}`,
    facts.mockModelUrl
      ? `  model:         MOCK MODEL at ${facts.mockModelUrl} (offline demo; no real model is called)`
      : `  model:         ${config.modelProvider} via ${config.modelProvider === 'bedrock' ? config.bedrockUpstream : config.anthropicUpstream}`,
  ];
  lines.push(`  console:       ${facts.url}/`);
  if (facts.generatedToken)
    lines.push(
      `  API token:     ${facts.generatedToken}   (tenant 'local'; set WORKCELL_API_TOKENS to choose your own)`,
    );
  // The token is not repeated: the chat reads it from WORKCELL_TOKEN or --token.
  lines.push(`  chat:          WORKCELL_TOKEN=<token> npx workcell chat --url ${facts.url}`);
  return lines.join('\n');
}
