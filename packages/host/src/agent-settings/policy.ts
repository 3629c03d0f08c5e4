import { WorkcellError } from '@workcell/protocol';
import type { AgentSettings } from './schema.js';

/** What the operator decides about agent settings (configuration). */
export interface AgentSettingsPolicyOptions {
  /** Operator defaults: `WORKCELL_AGENT_DEFAULTS` with `WORKCELL_MODEL` over its model. */
  defaults: AgentSettings;
  /** `WORKCELL_MODELS_ALLOWED`; null allows any model. */
  modelsAllowed: readonly string[] | null;
  /** `WORKCELL_AGENT_CUSTOM_SYSTEM_PROMPT`: whether a workspace or message may replace the system prompt. */
  allowCustomSystemPrompt: boolean;
}

/** The operator's rules over settings that come from the API. */
export class AgentSettingsPolicy {
  constructor(readonly options: AgentSettingsPolicyOptions) {}

  get defaults(): AgentSettings {
    return this.options.defaults;
  }

  /**
   * Refuses settings a client sent that the operator does not allow: a model outside the list
   * (`model_not_allowed`), a full system prompt without permission (`system_prompt_not_allowed`).
   */
  checkClientLayer(settings: AgentSettings | undefined): void {
    if (!settings) return;
    if (settings.model !== undefined) this.checkModel(settings.model);
    if (settings.systemPrompt !== undefined && !this.options.allowCustomSystemPrompt)
      throw new WorkcellError(
        'system_prompt_not_allowed',
        'replacing the system prompt is not allowed here; use appendSystemPrompt (the operator enables replacement with WORKCELL_AGENT_CUSTOM_SYSTEM_PROMPT=true)',
      );
  }

  /** Refuses a model outside `WORKCELL_MODELS_ALLOWED` with `model_not_allowed`. */
  checkModel(model: string): void {
    const allowed = this.options.modelsAllowed;
    if (allowed && !allowed.includes(model))
      throw new WorkcellError(
        'model_not_allowed',
        `model "${model}" is not allowed; allowed: ${allowed.join(', ')}`,
        { model },
      );
  }
}
