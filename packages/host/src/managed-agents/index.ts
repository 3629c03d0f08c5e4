export { createManagedAgents, type ManagedAgents, type ManagedAgentsSettings } from './service.js';
export {
  MANAGED_AGENTS_OPERATIONS,
  isManagedAgentsUrl,
  maOps,
  type ManagedAgentsOperation,
} from './operations.js';
