// The Team dialog's state: which tab is shown, what the relay said for it (members, devices,
// channels, audit log, retention; the Automation tab keeps its own in stores/automation.svelte.ts),
// what the signed-in member may do, and the outcome of the last
// action (a notice or a problem). No DOM: the tabs (components/team/) render it and act through it.
import {
  auditLog,
  channels as loadChannels,
  checkChannel,
  connectChannels,
  devices as loadDevices,
  IpcError,
  retention as loadRetention,
  team as loadTeam,
  type AuditEntry,
  type ChannelInfo,
  type Device,
  type Invitation,
  type Permission,
  type TeamView,
} from '../ipc';
import type { TeamSection } from './overlay.svelte';

/** How the relay judges a channel's connection to Meta, for people. */
export const HEALTH: Record<string, string> = {
  connected: 'Connected',
  attention: 'Needs attention',
  disconnected: 'Disconnected',
  unknown: 'Not checked yet',
};

/** Why an owner-only control is disabled. */
export const OWNER_ONLY = 'Only owners connect channels through Meta; ask an owner.';
/** Why an admin-only control is disabled. */
export const ADMIN_ONLY = 'Only admins and owners can do this; ask one of them.';

/** Where a connection to Meta is made: WhatsApp's Embedded Signup, or the Facebook Pages login. */
export type ConnectKind = 'whatsapp' | 'pages';

export class TeamState {
  section = $state<TeamSection>('members');
  view = $state<TeamView | null>(null);
  devices = $state<Device[]>([]);
  channels = $state<ChannelInfo[]>([]);
  audit = $state<AuditEntry[]>([]);
  /** The key of the next (older) audit page, if there is one. */
  auditMore = $state<number | null>(null);
  /** The retention periods in days ('' keeps), as the Data tab edits them. */
  conversationDays = $state<number | string>('');
  mediaDays = $state<number | string>('');
  problem = $state<string | null>(null);
  notice = $state<string | null>(null);
  loading = $state(true);
  /** The last invitation made, with its one-time code. */
  invitation = $state<Invitation | null>(null);
  /** An action waiting for "Yes". */
  confirming = $state<{ label: string; run: () => Promise<unknown> } | null>(null);
  /** The Meta signup running in its own window. */
  connecting = $state<ConnectKind | null>(null);

  constructor(section: TeamSection) {
    this.section = section;
  }

  /** Whether the signed-in member holds `permission`. */
  can(permission: Permission): boolean {
    return this.view?.permissions.includes(permission) ?? false;
  }
  get manageMembers() {
    return this.can('manage_members');
  }
  get manageChannels() {
    return this.can('manage_channels');
  }
  get readAudit() {
    return this.can('read_audit');
  }
  get isOwner() {
    return this.can('manage_workspace');
  }
  get manageData() {
    return this.can('manage_data');
  }
  get mayConnect() {
    return this.can('connect_channels');
  }

  fail(raw: unknown): void {
    this.problem = IpcError.from(raw).message;
  }

  /** Reloads the team and what the tab shows. */
  async reload(): Promise<void> {
    this.problem = null;
    // What this reload is for: a tab picked meanwhile reloads for itself.
    const section = this.section;
    try {
      this.view = await loadTeam();
      await this.#loadSection(section);
    } catch (raw) {
      this.fail(raw);
    } finally {
      this.loading = false;
    }
  }

  async #loadSection(section: TeamSection) {
    if (section === 'devices') this.devices = await loadDevices(this.manageMembers);
    // Automation names each channel's default team.
    if (section === 'channels' || section === 'automation') this.channels = await loadChannels();
    if (section === 'data') {
      const periods = await loadRetention();
      this.conversationDays = periods.conversation_days ?? '';
      this.mediaDays = periods.media_days ?? '';
    }
    if (section === 'audit' && this.readAudit) {
      const page = await auditLog(null);
      this.audit = page.entries;
      this.auditMore = page.next_before;
    }
  }

  /** Shows tab `next`, loaded afresh. */
  async show(next: TeamSection): Promise<void> {
    this.section = next;
    this.notice = null;
    await this.reload();
  }

  /** The next (older) page of the audit log. */
  async moreAudit(): Promise<void> {
    if (this.auditMore === null) return;
    try {
      const page = await auditLog(this.auditMore);
      this.audit = [...this.audit, ...page.entries];
      this.auditMore = page.next_before;
    } catch (raw) {
      this.fail(raw);
    }
  }

  /** Runs `action`; says `label` when it worked (and reloads), or why it did not. */
  async run(label: string, action: () => Promise<unknown>): Promise<void> {
    this.problem = null;
    this.notice = null;
    try {
      await action();
      this.notice = label;
      await this.reload();
    } catch (raw) {
      this.fail(raw);
    }
  }

  /** Asks "`label`" first; `action` runs on "Yes". */
  ask(label: string, action: () => Promise<unknown>): void {
    this.confirming = { label, run: action };
  }

  /** "Yes": runs the action asked about. */
  async confirm(): Promise<void> {
    const pending = this.confirming;
    this.confirming = null;
    if (pending) await this.run('Done.', pending.run);
  }

  /** Runs Meta's signup in its own window; the outcome is the notice (or the problem). */
  async connect(kind: ConnectKind): Promise<void> {
    this.problem = null;
    this.notice = null;
    this.connecting = kind;
    try {
      const outcome = await connectChannels(kind);
      await this.reload();
      if (outcome.state === 'connected') this.notice = outcome.message;
      else this.problem = outcome.message;
    } catch (raw) {
      this.fail(raw);
    } finally {
      this.connecting = null;
    }
  }

  /** Asks Meta now how `channel` is doing, and says it. */
  async check(channel: ChannelInfo): Promise<void> {
    this.problem = null;
    this.notice = null;
    try {
      const checked = await checkChannel(channel.id);
      const health = HEALTH[checked.health] ?? checked.health;
      this.notice = `${checked.display_name || checked.external_id}: ${health}${checked.health_reason ? ` — ${checked.health_reason}` : ''}`;
      await this.reload();
    } catch (raw) {
      this.fail(raw);
    }
  }

  /** Copies `text`, or says to copy it by hand. */
  async copy(text: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      this.notice = 'Copied.';
    } catch {
      this.notice = 'Select the text and copy it.';
    }
  }
}
