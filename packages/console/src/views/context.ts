import type { WorkcellClient } from '@workcell/client';

/** What a view gets: the client, where to draw, and a signal that aborts when the view is left. */
export interface ViewContext {
  wc: WorkcellClient;
  root: HTMLElement;
  signal: AbortSignal;
  navigate(hash: string): void;
  /** Draws the current view again, from the API. */
  reload(): void;
}
