// The Broadcasts page's state (issue 24, ADR 0021): the campaigns as the relay reports them;
// the new-campaign form (number, approved template, audience filters with the live count Rust
// works out on this desk's cache, pace, now or a time in the workspace's time zone) and its
// confirmation; and one campaign's progress, polled from the relay every few seconds while it
// is open, with its recipients and the admin's pause, resume and cancel. No DOM:
// components/Broadcasts.svelte and components/broadcasts/* draw it.
import {
  broadcast as loadCampaign,
  broadcastAudience,
  broadcastOptions,
  broadcastRecipients,
  broadcasts as loadCampaigns,
  broadcastTemplates,
  createBroadcast,
  IpcError,
  saveBroadcastCsv,
  steerBroadcast,
  type Audience,
  type AudienceFilter,
  type BroadcastOptions,
  type BroadcastTemplate,
  type CampaignAction,
  type CampaignCounts,
  type Campaign,
  type CampaignRecipient,
} from '../ipc';

/** How often an open campaign is read again from the relay. */
export const POLL_MS = 3_000;
/** How long the audience waits after the last change before it is counted again. */
export const AUDIENCE_DELAY_MS = 250;
/** The most progress samples the chart keeps (an hour at one every three seconds). */
export const MAX_SAMPLES = 1_200;

/** The outcomes in the order the page lists them, with what it says. */
export const OUTCOMES: readonly { key: keyof CampaignCounts; label: string }[] = [
  { key: 'queued', label: 'Queued' },
  { key: 'sending', label: 'Sending' },
  { key: 'sent', label: 'Sent' },
  { key: 'delivered', label: 'Delivered' },
  { key: 'read', label: 'Read' },
  { key: 'replied', label: 'Replied' },
  { key: 'failed', label: 'Failed' },
  { key: 'skipped', label: 'Skipped' },
  { key: 'cancelled', label: 'Cancelled' },
];

/** A campaign's state in words. */
export function stateLabel(state: Campaign['state']): string {
  return { draft: 'Draft', scheduled: 'Scheduled', running: 'Sending', paused: 'Paused', cancelled: 'Cancelled', completed: 'Completed' }[state];
}

/** Every recipient of a campaign. */
export function total(counts: CampaignCounts): number {
  return OUTCOMES.reduce((sum, o) => sum + counts[o.key], 0);
}

/** Recipients Meta accepted (sent, and everything that follows it). */
export function reached(counts: CampaignCounts): number {
  return counts.sent + counts.delivered + counts.read + counts.replied;
}

/** Recipients with an outcome (neither waiting nor in flight). */
export function settled(counts: CampaignCounts): number {
  return total(counts) - counts.queued - counts.sending;
}

/** Which actions an admin may take on a campaign in `state`. */
export function actionsFor(state: Campaign['state']): CampaignAction[] {
  switch (state) {
    case 'scheduled':
    case 'running':
      return ['pause', 'cancel'];
    case 'paused':
      return ['resume', 'cancel'];
    case 'draft':
      return ['cancel'];
    default:
      return [];
  }
}

/** One progress sample: when, and how many had reached each stage. */
export type Sample = { at: number; reached: number; delivered: number; read: number; failed: number };

/** A sample of `counts` at `at`: "delivered" counts everyone delivered or further. */
export function sample(counts: CampaignCounts, at: number): Sample {
  return {
    at,
    reached: reached(counts),
    delivered: counts.delivered + counts.read + counts.replied,
    read: counts.read + counts.replied,
    failed: counts.failed,
  };
}

/** The form of a new campaign. */
export type Form = {
  name: string;
  channelId: string;
  /** `name|language` of the chosen template. */
  template: string;
  labels: string[];
  labelMatch: 'any' | 'all';
  attributes: { key: string; value: string }[];
  activity: 'any' | 'within' | 'between';
  withinDays: number;
  since: string;
  until: string;
  perSecond: number;
  when: 'now' | 'later';
  /** `YYYY-MM-DDTHH:MM` in the workspace's time zone, as a date-time input gives it. */
  sendAt: string;
};

/** An empty form on number `channelId`. */
export function emptyForm(channelId = ''): Form {
  return {
    name: '',
    channelId,
    template: '',
    labels: [],
    labelMatch: 'any',
    attributes: [],
    activity: 'any',
    withinDays: 30,
    since: '',
    until: '',
    perSecond: 20,
    when: 'now',
    sendAt: '',
  };
}

/** The audience the form describes, as Rust takes it. */
export function filterOf(form: Form): AudienceFilter {
  const attributes = form.attributes.filter((a) => a.key.trim() !== '').map((a) => ({ key: a.key.trim(), value: a.value.trim() }));
  let last_activity: AudienceFilter['last_activity'] = null;
  if (form.activity === 'within') last_activity = { kind: 'within_days', days: Math.max(1, Math.floor(form.withinDays) || 1) };
  if (form.activity === 'between' && form.since && form.until) last_activity = { kind: 'between', since: form.since, until: form.until };
  return { channel_id: form.channelId, labels: form.labels, label_match: form.labelMatch, attributes, last_activity };
}

/** Saved CSV: where it went, or why not. */
export type Saved = { path: string } | { problem: string };

export class BroadcastsState {
  options = $state<BroadcastOptions | null>(null);
  campaigns = $state<Campaign[]>([]);
  problem = $state<string | null>(null);
  loading = $state(false);

  /** The page shown: the list, the form, or one campaign. */
  view = $state<'list' | 'create' | 'campaign'>('list');

  form = $state<Form>(emptyForm());
  templates = $state<BroadcastTemplate[]>([]);
  templatesProblem = $state<string | null>(null);
  audience = $state<Audience | null>(null);
  audienceProblem = $state<string | null>(null);
  counting = $state(false);
  /** The confirmation is showing. */
  confirming = $state(false);
  creating = $state(false);
  createProblem = $state<string | null>(null);

  campaign = $state<Campaign | null>(null);
  samples = $state<Sample[]>([]);
  recipients = $state<CampaignRecipient[]>([]);
  nextRecipients = $state<string | null>(null);
  campaignProblem = $state<string | null>(null);
  steering = $state(false);
  saved = $state<Saved | null>(null);

  #poll: ReturnType<typeof setInterval> | null = null;
  #countTimer: ReturnType<typeof setTimeout> | null = null;
  /** Answers to older audience counts are dropped: only the latest filter's shows. */
  #countSeq = 0;

  constructor(
    private readonly pollMs = POLL_MS,
    private readonly delayMs = AUDIENCE_DELAY_MS,
  ) {}

  /** Whether this member may create and steer campaigns. */
  get canManage(): boolean {
    return this.options?.can_manage ?? false;
  }

  /** The chosen template, if any. */
  get template(): BroadcastTemplate | null {
    return this.templates.find((t) => `${t.name}|${t.language}` === this.form.template) ?? null;
  }

  /** Whether the chosen template is a marketing one (only opted-in customers receive it). */
  get marketing(): boolean {
    return (this.template?.category ?? 'MARKETING').toUpperCase() === 'MARKETING';
  }

  /** What stops the form from being sent, in words; `null` when it can go. */
  get formProblem(): string | null {
    const f = this.form;
    if (f.name.trim() === '') return 'Give the campaign a name.';
    if (!f.channelId) return 'Choose the WhatsApp number it is sent from.';
    if (!this.template) return 'Choose an approved template.';
    if (f.activity === 'between' && (!f.since || !f.until)) return 'Choose both days of the last-message range.';
    if (!(f.perSecond >= 1 && f.perSecond <= 1000)) return 'The pace is 1 to 1,000 messages a second.';
    if (f.when === 'later' && !f.sendAt) return 'Choose the date and time to send it.';
    if (!this.audience || this.audience.eligible === 0) return 'No customer of this audience may receive it.';
    return null;
  }

  /** Loads what the page offers and the campaigns. */
  async start(): Promise<void> {
    this.loading = true;
    try {
      this.options = await broadcastOptions();
      if (!this.form.channelId && this.options.channels.length > 0) this.form.channelId = this.options.channels[0].id;
      await this.refresh();
    } catch (raw) {
      this.problem = IpcError.from(raw).message;
    } finally {
      this.loading = false;
    }
  }

  /** Reads the campaigns again. */
  async refresh(): Promise<void> {
    try {
      this.campaigns = await loadCampaigns();
      this.problem = null;
    } catch (raw) {
      this.problem = IpcError.from(raw).message;
    }
  }

  /** Stops polling and pending counts (the page closed). */
  stop(): void {
    this.#stopPolling();
    if (this.#countTimer) clearTimeout(this.#countTimer);
    this.#countTimer = null;
  }

  /** Opens the form, its templates and the audience's first count. */
  async openCreate(): Promise<void> {
    if (!this.canManage) return;
    this.#stopPolling();
    this.form = emptyForm(this.options?.channels[0]?.id ?? '');
    this.view = 'create';
    this.confirming = false;
    this.createProblem = null;
    await this.loadTemplates();
    await this.countNow();
  }

  /** Back to the list. */
  showList(): void {
    this.#stopPolling();
    this.view = 'list';
    this.campaign = null;
    void this.refresh();
  }

  /** The approved templates of the chosen number; `refresh` asks the relay to read them from Meta first. */
  async loadTemplates(refresh = false): Promise<void> {
    this.templates = [];
    this.templatesProblem = null;
    if (!this.form.channelId) return;
    try {
      this.templates = await broadcastTemplates(this.form.channelId, refresh);
      if (!this.template) this.form.template = '';
    } catch (raw) {
      this.templatesProblem = IpcError.from(raw).message;
    }
  }

  /** The number changed: its templates and its audience. */
  async chooseChannel(channelId: string): Promise<void> {
    this.form.channelId = channelId;
    this.form.template = '';
    await this.loadTemplates();
    this.changed();
  }

  /** The form changed: count the audience again shortly (changes in a row count once). */
  changed(): void {
    this.confirming = false;
    if (this.#countTimer) clearTimeout(this.#countTimer);
    this.#countTimer = setTimeout(() => void this.countNow(), this.delayMs);
  }

  /** Counts the audience now. */
  async countNow(): Promise<void> {
    if (this.#countTimer) clearTimeout(this.#countTimer);
    this.#countTimer = null;
    if (!this.form.channelId) return;
    const seq = ++this.#countSeq;
    this.counting = true;
    try {
      const answer = await broadcastAudience(filterOf(this.form), this.marketing, this.options?.time_zone ?? 'UTC');
      if (seq !== this.#countSeq) return;
      this.audience = answer;
      this.audienceProblem = null;
    } catch (raw) {
      if (seq !== this.#countSeq) return;
      this.audience = null;
      this.audienceProblem = IpcError.from(raw).message;
    } finally {
      if (seq === this.#countSeq) this.counting = false;
    }
  }

  /** Shows the confirmation (how many will receive it), if the form can go. */
  confirm(): void {
    this.createProblem = null;
    this.confirming = this.formProblem === null;
  }

  /** Creates and starts the campaign, then shows it. */
  async create(): Promise<void> {
    const template = this.template;
    if (!template || this.formProblem) return;
    this.creating = true;
    this.createProblem = null;
    try {
      const created = await createBroadcast({
        name: this.form.name.trim(),
        template_name: template.name,
        template_language: template.language,
        audience: filterOf(this.form),
        per_second: this.form.perSecond,
        send_at: this.form.when === 'later' ? this.form.sendAt : null,
      });
      this.confirming = false;
      this.campaigns = [created, ...this.campaigns.filter((c) => c.id !== created.id)];
      await this.open(created);
    } catch (raw) {
      this.confirming = false;
      this.createProblem = IpcError.from(raw).message;
    } finally {
      this.creating = false;
    }
  }

  /** Shows one campaign and polls it while it is open. */
  async open(campaign: Campaign): Promise<void> {
    this.#stopPolling();
    this.view = 'campaign';
    this.campaign = campaign;
    this.samples = [sample(campaign.counts, Date.now())];
    this.recipients = [];
    this.nextRecipients = null;
    this.campaignProblem = null;
    this.saved = null;
    await this.loadRecipients(true);
    this.#poll = setInterval(() => void this.poll(), this.pollMs);
  }

  /** Reads the open campaign again, adds a progress sample, and its first recipients. */
  async poll(): Promise<void> {
    const id = this.campaign?.id;
    if (!id) return;
    try {
      const fresh = await loadCampaign(id);
      if (this.campaign?.id !== id) return;
      this.campaign = fresh;
      this.campaigns = this.campaigns.map((c) => (c.id === id ? fresh : c));
      this.samples = [...this.samples, sample(fresh.counts, Date.now())].slice(-MAX_SAMPLES);
      this.campaignProblem = null;
      if (this.recipients.length <= 100) await this.loadRecipients(true);
    } catch (raw) {
      this.campaignProblem = IpcError.from(raw).message;
    }
  }

  /** The first page of recipients again (`fromStart`), or the next one. */
  async loadRecipients(fromStart = false): Promise<void> {
    const id = this.campaign?.id;
    if (!id) return;
    try {
      const page = await broadcastRecipients(id, fromStart ? null : this.nextRecipients);
      if (this.campaign?.id !== id) return;
      this.recipients = fromStart ? page.recipients : [...this.recipients, ...page.recipients];
      this.nextRecipients = page.next;
    } catch (raw) {
      this.campaignProblem = IpcError.from(raw).message;
    }
  }

  /** Pauses, resumes or cancels the open campaign. */
  async steer(action: CampaignAction): Promise<void> {
    const id = this.campaign?.id;
    if (!id) return;
    this.steering = true;
    try {
      const fresh = await steerBroadcast(id, action);
      this.campaign = fresh;
      this.campaigns = this.campaigns.map((c) => (c.id === id ? fresh : c));
      this.campaignProblem = null;
    } catch (raw) {
      this.campaignProblem = IpcError.from(raw).message;
    } finally {
      this.steering = false;
    }
  }

  /** Saves the open campaign's recipients and outcomes as CSV. */
  async saveCsv(): Promise<void> {
    const c = this.campaign;
    if (!c) return;
    try {
      this.saved = { path: await saveBroadcastCsv(c.id, c.name) };
    } catch (raw) {
      this.saved = { problem: IpcError.from(raw).message };
    }
  }

  #stopPolling(): void {
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = null;
  }
}
