export {
  WorkcellClient,
  type WorkcellClientOptions,
  type RequestOptions,
  type StreamOptions,
  type UploadBody,
  type FileDownload,
  type StartedRun,
} from './client.js';
export { WorkcellApiError } from './errors.js';
export { RunEventStream, type ReconnectOptions } from './run-stream.js';
export { SseParser, type SseFrame } from './sse.js';
export {
  isErrorCode,
  type ErrorCode,
  type RunEvent,
  type RunEventName,
  type RunSummary,
  type Workspace,
  type WorkspaceDetail,
  type WorkspaceContainer,
  type FileEntry,
  type WrittenFile,
  type Conversation,
  type ConversationDetail,
  type ConversationHistory,
  type Run,
  type RunStatus,
  type Health,
  type Readiness,
  type AdminContainer,
  type EgressView,
  type EgressDecision,
  type ContainerState,
} from '@workcell/protocol';
