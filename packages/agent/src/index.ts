export { startEgressBridge, type EgressBridge } from './bridge.js';
export { AgentRunner } from './runner.js';
export { ReadyAgents, optionsKey, readReadySettings, type ReadySettings } from './ready.js';
export { contextFingerprint } from './context-fingerprint.js';
export {
  readAgentSettings,
  sdkEnvironment,
  type AgentSettings,
  type ModelProvider,
} from './sdk-env.js';
export { startAgentServer } from './server.js';
