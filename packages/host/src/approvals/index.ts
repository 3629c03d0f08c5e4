export { ApprovalService, approvalSettings, type ApprovalSettings } from './service.js';
export { RunItems, type AgentItemEvent, type RunItemsLink } from './run-items.js';
export { checkUpdatedInput } from './input-check.js';
