export { ApprovalService } from './service.js';
export { approvalSettings, type ApprovalSettings } from './settings.js';
export { RunItems, type AgentItemEvent, type RunItemsLink } from './run-items.js';
export { checkUpdatedInput } from './input-check.js';
export { loggedItems, waitedMs, type LoggedItems } from './carried-on.js';
