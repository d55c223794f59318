// AI assist in the UI (issue 25, ADR 0016): whether it is on and where text goes (the indicator),
// and one conversation's requests — a summary (savable as a private note), a reply draft or a
// rewrite streamed into the composer (never sent without the agent pressing Send, P2), suggested
// labels, and "what exactly is sent". Rust does the work; this only keeps what the UI shows.
import {
  assistLabels,
  assistPreview,
  assistStatus,
  assistStream,
  IpcError,
  type Ask,
  type AssistAnnouncement,
  type AssistChange,
  type AssistPreview,
  type AssistSettings,
  type LabelSuggestion,
  type RewriteAs,
} from '../ipc';

/** A thread this long (messages) is offered a summary without asking. */
export const LONG_THREAD = 15;

/** The four rewrites, as the composer's menu names them. */
export const REWRITES: readonly { style: RewriteAs; label: string }[] = [
  { style: 'shorter', label: 'Shorter' },
  { style: 'friendlier', label: 'Friendlier' },
  { style: 'more_formal', label: 'More formal' },
  { style: 'customers_language', label: "In the customer's language" },
];

/** Whether requests can be made: on, with a provider named. */
export function isOn(status: AssistAnnouncement | null): boolean {
  return !!status?.enabled && !!status.provider;
}

/** What the indicator says (`null` when AI is off): where text goes and which model reads it. */
export function whereTextGoes(status: AssistAnnouncement | null): string | null {
  if (!isOn(status) || !status?.provider) return null;
  return `AI on · text goes to ${status.provider.name} (${status.provider.model})${status.masking ? ' · identifiers masked' : ''}`;
}

/** Whether a thread of `messageCount` messages is offered a summary by itself. */
export function offerSummary(messageCount: number): boolean {
  return messageCount >= LONG_THREAD;
}

/** The suggested labels the conversation does not carry yet. */
export function labelsToApply(suggestion: LabelSuggestion | null, carried: readonly string[]): string[] {
  if (!suggestion) return [];
  const have = new Set(carried.map((l) => l.toLowerCase()));
  return suggestion.labels.filter((l) => !have.has(l.toLowerCase()));
}

/** The note a saved summary becomes (marked as AI-written, for the team). */
export function summaryNote(summary: string, provider: string | null): string {
  return `AI summary${provider ? ` (${provider})` : ''}:\n${summary.trim()}`;
}

/** AI assist as this desk knows it, for the indicator and the buttons. */
export class AssistStatus {
  current = $state<AssistAnnouncement | null>(null);

  /** Reads it again from the cache; a failure keeps what was shown. */
  async refresh(): Promise<void> {
    try {
      this.current = await assistStatus();
    } catch {
      // The indicator keeps its last state; the next inbox change tries again.
    }
  }

  get on(): boolean {
    return isOn(this.current);
  }

  get indicator(): string | null {
    return whereTextGoes(this.current);
  }
}

type Busy = 'summary' | 'draft' | 'rewrite' | 'labels' | 'preview' | null;

/** One conversation's AI requests and what they answered. */
export class AssistRequests {
  busy = $state<Busy>(null);
  summary = $state('');
  problem = $state<IpcError | null>(null);
  preview = $state<AssistPreview | null>(null);
  labels = $state<LabelSuggestion | null>(null);
  /** Tokens the last request used, and the month's total. */
  spent = $state<{ tokens: number; month: number } | null>(null);

  /** Counts `reset`s: an answer that arrives after another conversation opened is not shown. */
  #shown = 0;

  constructor(private readonly conversationId: () => number | null) {}

  async #run<T>(busy: Exclude<Busy, null>, call: (id: number) => Promise<T>): Promise<T | undefined> {
    const id = this.conversationId();
    if (id === null || this.busy) return undefined;
    const shown = this.#shown;
    this.busy = busy;
    this.problem = null;
    try {
      return await call(id);
    } catch (raw) {
      if (shown === this.#shown) this.problem = IpcError.from(raw);
      return undefined;
    } finally {
      this.busy = null;
    }
  }

  async #stream(busy: 'summary' | 'draft' | 'rewrite', ask: Ask, write: (text: string) => void): Promise<boolean> {
    let text = '';
    const shown = this.#shown;
    const outcome = await this.#run(busy, (id) =>
      assistStream(id, ask, (piece) => {
        text += piece;
        write(text);
      }),
    );
    if (outcome && shown === this.#shown) this.spent = { tokens: outcome.tokens, month: outcome.spent_this_month };
    return outcome !== undefined;
  }

  /** Streams a summary of the conversation into `summary` (dropped if another conversation opens). */
  async summarize(): Promise<void> {
    if (this.busy) return;
    this.summary = '';
    const shown = this.#shown;
    await this.#stream('summary', { type: 'summary' }, (text) => {
      if (shown === this.#shown) this.summary = text;
    });
  }

  /** Streams a reply draft into the composer through `write` (the whole draft so far each time). */
  async draft(write: (text: string) => void): Promise<boolean> {
    return this.#stream('draft', { type: 'draft' }, write);
  }

  /** Streams `draft` rewritten in `style` into the composer; on failure the original is put back. */
  async rewrite(style: RewriteAs, draft: string, write: (text: string) => void): Promise<boolean> {
    const done = await this.#stream('rewrite', { type: 'rewrite', style, draft }, write);
    if (!done) write(draft);
    return done;
  }

  /** Asks for the latest customer message's labels; applies them through `apply` when `auto`. */
  async suggestLabels(carried: readonly string[], auto: boolean, apply: (label: string) => Promise<void>): Promise<void> {
    const suggestion = await this.#run('labels', (id) => assistLabels(id));
    if (!suggestion) return;
    this.labels = suggestion;
    if (auto) for (const label of labelsToApply(suggestion, carried)) await apply(label);
  }

  /** Shows exactly what `ask` would send. */
  async showWhatIsSent(ask: Ask): Promise<void> {
    const preview = await this.#run('preview', (id) => assistPreview(id, ask));
    if (preview) this.preview = preview;
  }

  /** Forgets what was shown (another conversation opened). */
  reset(): void {
    this.#shown += 1;
    this.summary = '';
    this.problem = null;
    this.preview = null;
    this.labels = null;
    this.spent = null;
  }
}

/** The owners' AI settings form, as typed. */
export type AssistForm = {
  enabled: boolean;
  baseUrl: string;
  model: string;
  /** A new key; empty keeps the current one. */
  apiKey: string;
  removeKey: boolean;
  masking: boolean;
  autoLabels: boolean;
  /** Tokens per month; empty for no limit. */
  budget: string;
};

/** The form for settings as saved (a new workspace: off, masking on). */
export function assistForm(settings: AssistSettings | null): AssistForm {
  return {
    enabled: settings?.enabled ?? false,
    baseUrl: settings?.provider?.base_url ?? '',
    model: settings?.provider?.model ?? '',
    apiKey: '',
    removeKey: false,
    masking: settings?.masking ?? true,
    autoLabels: settings?.auto_labels ?? false,
    budget: settings?.monthly_budget_tokens == null ? '' : String(settings.monthly_budget_tokens),
  };
}

/** The change to save, or what to fix first. */
export function assistChange(form: AssistForm, version: number): { change: AssistChange } | { problem: string } {
  const baseUrl = form.baseUrl.trim();
  const model = form.model.trim();
  if (form.enabled && (!baseUrl || !model)) return { problem: 'Name the provider (its address) and the model before turning AI on.' };
  if (baseUrl && !/^https?:\/\/[^\s/]+/i.test(baseUrl)) return { problem: 'The provider address starts with https:// or http:// (like https://api.openai.com/v1).' };
  const budget = form.budget.trim();
  if (budget && !/^\d+$/.test(budget)) return { problem: 'The monthly budget is a whole number of tokens (leave it empty for no limit).' };
  return {
    change: {
      enabled: form.enabled,
      base_url: baseUrl || null,
      model: model || null,
      masking: form.masking,
      auto_labels: form.autoLabels,
      monthly_budget_tokens: budget ? Number(budget) : null,
      api_key: form.apiKey.trim() ? form.apiKey.trim() : null,
      remove_key: form.removeKey,
      expected_version: version,
    },
  };
}
