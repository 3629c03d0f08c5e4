import { canonicalHost } from '@workcell/proxy';
import type { z } from 'zod';
import type { SealedValue, SecretCipher } from '../secrets/cipher.js';
import { AnthropicApiError, conflict, notFound, unsupported } from './errors.js';
import { newResourceId } from './ids.js';
import type { RecordStore } from './record-store.js';
import type {
  CredentialCreateBody,
  CredentialUpdateBody,
  vaultCreateBody,
  vaultUpdateBody,
} from './schemas.js';

/** A vault in the SDK's `BetaManagedAgentsVault` shape. */
export interface Vault {
  id: string;
  type: 'vault';
  display_name: string;
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

type CredentialAuth =
  | {
      type: 'environment_variable';
      secret_name: string;
      networking: { type: 'limited'; allowed_hosts: string[] };
      injection_location: { header: boolean; body: boolean };
    }
  | { type: 'static_bearer'; mcp_server_url: string };

/** A credential in the SDK's `BetaManagedAgentsCredential` shape: never its value. */
export interface Credential {
  id: string;
  type: 'vault_credential';
  vault_id: string;
  display_name: string | null;
  metadata: Record<string, string>;
  auth: CredentialAuth;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
}

/** What is stored: the view and the value, sealed with the secrets key. */
interface CredentialRecord extends Credential {
  sealed: SealedValue;
}

/** A credential with its value opened, for the session that uses it. */
export interface OpenCredential {
  credential: Credential;
  value: string;
}

function patchMetadata(
  current: Record<string, string>,
  patch: Record<string, string | null> | null | undefined,
): Record<string, string> {
  if (patch === undefined) return current;
  if (patch === null) return {};
  const next = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  return next;
}

/**
 * Where the proxy writes the value: request headers when `header` is set (the secret's
 * `headers`), request bodies to the credential's hosts when `body` is set (the secret's
 * `body`); a location left out of a given `injection_location` is off, and without one,
 * headers only. Both off is accepted, as the SDK's types allow: the credential is inert.
 */
/**
 * Where a credential's value is substituted: both locations when the field is left out, else
 * those it names (a left-out one is off). One location at least, as Anthropic's API requires.
 */
function injectionOf(
  location: { header?: boolean | undefined; body?: boolean | undefined } | undefined,
): { header: boolean; body: boolean } {
  const resolved = {
    header: location ? (location.header ?? false) : true,
    body: location ? (location.body ?? false) : true,
  };
  if (!resolved.header && !resolved.body)
    throw new AnthropicApiError(
      'invalid_request_error',
      'auth.injection_location: a credential must have at least one location enabled (header or body)',
    );
  return resolved;
}

function view(record: CredentialRecord): Credential {
  const { sealed: _sealed, ...credential } = record;
  return credential;
}

function hosts(list: readonly string[]): string[] {
  return list.map((host, i) => {
    try {
      return canonicalHost(host).value;
    } catch (err) {
      throw new AnthropicApiError(
        'invalid_request_error',
        `auth.networking.allowed_hosts.${i}: ${(err as Error).message}`,
      );
    }
  });
}

/**
 * Vaults and their credentials. A credential's value is sealed with the secrets key
 * (`WORKCELL_SECRETS_KEY`) and bound to its tenant, vault and id; no answer carries it. Sessions
 * open them to make workspace secrets (`session-setup.ts`).
 */
export class VaultService {
  constructor(
    private readonly records: RecordStore,
    private readonly cipher: SecretCipher | null,
    private readonly clock: () => number = Date.now,
  ) {}

  private now(): string {
    return new Date(this.clock()).toISOString();
  }

  private context(tenant: string, vaultId: string, id: string): string {
    return `workcell-vault-credential:v1:${tenant}:${vaultId}:${id}`;
  }

  private requireCipher(): SecretCipher {
    if (!this.cipher)
      throw new AnthropicApiError(
        'invalid_request_error',
        'vault credentials need the secrets key (WORKCELL_SECRETS_KEY), which this installation has not set',
      );
    return this.cipher;
  }

  async vault(tenant: string, id: string): Promise<Vault> {
    const vault = await this.records.get<Vault>(tenant, 'vaults', id);
    if (!vault) throw notFound('vault', id);
    return vault;
  }

  async create(tenant: string, body: z.infer<typeof vaultCreateBody>): Promise<Vault> {
    const now = this.now();
    const vault: Vault = {
      id: newResourceId('vault', this.clock()),
      type: 'vault',
      display_name: body.display_name,
      metadata: body.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    await this.records.put(tenant, 'vaults', vault.id, vault);
    return vault;
  }

  async update(tenant: string, id: string, body: z.infer<typeof vaultUpdateBody>): Promise<Vault> {
    const vault = await this.vault(tenant, id);
    if (vault.archived_at) throw conflict(`vault ${id} is archived`);
    const next: Vault = {
      ...vault,
      display_name: body.display_name ?? vault.display_name,
      metadata: patchMetadata(vault.metadata, body.metadata),
      updated_at: this.now(),
    };
    await this.records.put(tenant, 'vaults', id, next);
    return next;
  }

  async list(tenant: string, includeArchived: boolean): Promise<Vault[]> {
    const all = await this.records.list<Vault>(tenant, 'vaults');
    return all.filter((v) => includeArchived || v.archived_at === null).reverse();
  }

  async archive(tenant: string, id: string): Promise<Vault> {
    const vault = await this.vault(tenant, id);
    if (vault.archived_at) return vault;
    const next = { ...vault, archived_at: this.now() };
    await this.records.put(tenant, 'vaults', id, next);
    return next;
  }

  async delete(tenant: string, id: string): Promise<{ id: string; type: 'vault_deleted' }> {
    await this.vault(tenant, id);
    await this.records.delete(tenant, 'vaults', id);
    return { id, type: 'vault_deleted' };
  }

  private async credentialRecord(
    tenant: string,
    vaultId: string,
    id: string,
  ): Promise<CredentialRecord> {
    await this.vault(tenant, vaultId);
    const record = await this.records.get<CredentialRecord>(tenant, 'credentials', id, vaultId);
    if (!record) throw notFound('credential', id);
    return record;
  }

  async createCredential(
    tenant: string,
    vaultId: string,
    body: CredentialCreateBody,
  ): Promise<Credential> {
    const vault = await this.vault(tenant, vaultId);
    if (vault.archived_at) throw conflict(`vault ${vaultId} is archived`);
    const cipher = this.requireCipher();
    const auth = body.auth;
    let stored: CredentialAuth;
    let value: string;
    if (auth.type === 'mcp_oauth') throw unsupported('mcp_oauth credentials');
    if (auth.type === 'environment_variable') {
      if (auth.networking.type !== 'limited')
        throw unsupported('environment_variable credentials with unrestricted networking');
      stored = {
        type: 'environment_variable',
        secret_name: auth.secret_name,
        networking: { type: 'limited', allowed_hosts: hosts(auth.networking.allowed_hosts) },
        injection_location: injectionOf(auth.injection_location),
      };
      value = auth.secret_value;
    } else {
      stored = { type: 'static_bearer', mcp_server_url: auth.mcp_server_url };
      value = auth.token;
    }
    const id = newResourceId('credential', this.clock());
    const now = this.now();
    const record: CredentialRecord = {
      id,
      type: 'vault_credential',
      vault_id: vaultId,
      display_name: body.display_name ?? null,
      metadata: body.metadata ?? {},
      auth: stored,
      created_at: now,
      updated_at: now,
      archived_at: null,
      sealed: cipher.seal(value, this.context(tenant, vaultId, id)),
    };
    await this.records.put(tenant, 'credentials', id, record, vaultId);
    return view(record);
  }

  async credential(tenant: string, vaultId: string, id: string): Promise<Credential> {
    return view(await this.credentialRecord(tenant, vaultId, id));
  }

  async updateCredential(
    tenant: string,
    vaultId: string,
    id: string,
    body: CredentialUpdateBody,
  ): Promise<Credential> {
    const record = await this.credentialRecord(tenant, vaultId, id);
    if (record.archived_at) throw conflict(`credential ${id} is archived`);
    const next: CredentialRecord = {
      ...record,
      display_name: body.display_name === undefined ? record.display_name : body.display_name,
      metadata: patchMetadata(record.metadata, body.metadata),
      updated_at: this.now(),
    };
    const auth = body.auth;
    if (auth) {
      if (auth.type !== record.auth.type)
        throw new AnthropicApiError(
          'invalid_request_error',
          `auth.type: the credential is ${record.auth.type}`,
        );
      let value: string | null | undefined;
      if (auth.type === 'environment_variable' && next.auth.type === 'environment_variable') {
        value = auth.secret_value;
        if (auth.networking) {
          if (auth.networking.type !== 'limited')
            throw unsupported('environment_variable credentials with unrestricted networking');
          next.auth = {
            ...next.auth,
            networking: { type: 'limited', allowed_hosts: hosts(auth.networking.allowed_hosts) },
          };
        }
        if (auth.injection_location)
          next.auth = {
            ...next.auth,
            injection_location: injectionOf({
              ...next.auth.injection_location,
              ...auth.injection_location,
            }),
          };
      } else if (auth.type === 'static_bearer') {
        value = auth.token;
      }
      if (value) next.sealed = this.requireCipher().seal(value, this.context(tenant, vaultId, id));
    }
    await this.records.put(tenant, 'credentials', id, next, vaultId);
    return view(next);
  }

  async listCredentials(
    tenant: string,
    vaultId: string,
    includeArchived: boolean,
  ): Promise<Credential[]> {
    await this.vault(tenant, vaultId);
    const all = await this.records.list<CredentialRecord>(tenant, 'credentials', vaultId);
    return all
      .filter((c) => includeArchived || c.archived_at === null)
      .map(view)
      .reverse();
  }

  async archiveCredential(tenant: string, vaultId: string, id: string): Promise<Credential> {
    const record = await this.credentialRecord(tenant, vaultId, id);
    if (record.archived_at) return view(record);
    const next = { ...record, archived_at: this.now() };
    await this.records.put(tenant, 'credentials', id, next, vaultId);
    return view(next);
  }

  async deleteCredential(
    tenant: string,
    vaultId: string,
    id: string,
  ): Promise<{ id: string; type: 'vault_credential_deleted' }> {
    await this.credentialRecord(tenant, vaultId, id);
    await this.records.delete(tenant, 'credentials', id, vaultId);
    return { id, type: 'vault_credential_deleted' };
  }

  /** The live credentials of the vaults with their values, for a session's secrets. */
  async open(tenant: string, vaultIds: readonly string[]): Promise<OpenCredential[]> {
    const out: OpenCredential[] = [];
    for (const vaultId of vaultIds) {
      const vault = await this.records.get<Vault>(tenant, 'vaults', vaultId);
      if (!vault || vault.archived_at) continue;
      const cipher = this.requireCipher();
      for (const record of await this.records.list<CredentialRecord>(
        tenant,
        'credentials',
        vaultId,
      )) {
        if (record.archived_at) continue;
        out.push({
          credential: view(record),
          value: cipher.open(record.sealed, this.context(tenant, vaultId, record.id)),
        });
      }
    }
    return out;
  }
}
