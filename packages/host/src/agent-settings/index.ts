export {
  agentSettingsSchema,
  messageAgentSchema,
  type AgentSettings,
  type MessageAgentSettings,
} from './schema.js';
export { mergeSettings, redactSettings, toRunOptions } from './merge.js';
export { mcpEgressPatterns } from './mcp-hosts.js';
export { AgentSettingsPolicy, type AgentSettingsPolicyOptions } from './policy.js';
export { AgentSettingsStore } from './store.js';
export {
  AgentSettingsService,
  workspaceMcpEgress,
  type ResolvedAgent,
  type WorkspaceAgentView,
} from './service.js';
