/**
 * The agent settings schema lives in @workcell/protocol, where the client takes its types; the
 * host validates the operator's defaults, a workspace's settings and one message's overrides
 * with it.
 */
export {
  agentSettingsSchema,
  messageAgentSchema,
  type AgentSettings,
  type MessageAgentSettings,
} from '@workcell/protocol';
