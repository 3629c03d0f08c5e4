import { parseEgressPattern, type EgressPattern } from '@workcell/proxy';
import type { AgentSettings } from './schema.js';

/**
 * The egress allow patterns the MCP servers of `settings` need: `host:port` of each URL (port
 * 443 or 80 when the URL names none). Throws a WorkcellError (`validation_failed`) for a host
 * that cannot be a pattern.
 */
export function mcpEgressPatterns(settings: AgentSettings): EgressPattern[] {
  const patterns = new Map<string, EgressPattern>();
  for (const [name, server] of Object.entries(settings.mcpServers ?? {})) {
    const url = new URL(server.url);
    const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
    const pattern = parseEgressPattern(`${url.hostname}:${port}`, `mcpServers.${name}.url`);
    patterns.set(pattern.text, pattern);
  }
  return [...patterns.values()];
}
