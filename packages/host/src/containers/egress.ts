/** Who is calling through one container's egress socket. */
export interface EgressIdentity {
  workspaceId: string | null;
  tenant: string | null;
  containerId: string | null;
}

/** One container's egress listener. */
export interface EgressAttachment {
  /** Re-points the listener at a workspace (a warm container is assigned after it starts). */
  setIdentity(identity: EgressIdentity): void;
  close(): Promise<void>;
}

/**
 * The host side of every container's only way out: starts the credential proxy's listener on
 * the container's egress socket. Implemented over `@workcell/proxy` in `egress/`.
 */
export interface EgressGateway {
  attach(socketPath: string, identity: EgressIdentity): Promise<EgressAttachment>;
  close(): Promise<void>;
}
