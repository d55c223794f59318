// The UI's one gateway to Rust. Components import from here, never from `@tauri-apps/api`
// or from the generated bindings directly.
import { Channel } from '@tauri-apps/api/core';
import {
  commands,
  events,
  type CacheStatus,
  type CannedReply,
  type CommandError,
  type ConversationAction_Deserialize,
  type ConversationFilter_Deserialize,
  type ConversationSummary_Serialize,
  type ConversationView_Serialize,
  type DeskStatus_Serialize,
  type ErrorCode,
  type MessageView_Serialize,
  type PageKey,
  type SearchHit_Serialize,
  type TemplateView,
  type Teammate,
  type Role,
  type AuditPage_Serialize,
  type ChannelInfo_Serialize,
  type Device_Serialize,
  type Invitation_Serialize,
  type MemberChange_Deserialize,
  type Remembered_Serialize,
  type TeamView_Serialize,
  type ErasurePreview,
  type ErasureReceipt,
  type ExportProgressed,
  type ExportSummary,
  type Retention,
  type SignupOutcome_Serialize,
  type About,
  type UpdateStatus_Serialize,
  type OpenedLink,
  type Identity_Serialize,
  type Assignment,
  type AutomationPreview_Serialize,
  type AutomationSetup_Serialize,
  type Hours_Serialize,
  type MemberPresence_Serialize,
  type MenuOption,
  type Menu_Serialize,
  type PreviewConversation_Serialize,
  type PreviewMessage,
  type Setup_Serialize,
  type Span,
  type Team_Serialize,
  type Texts_Serialize,
  type AgentFigures_Serialize,
  type ChannelFigures,
  type DayFigures,
  type ReportQuery_Deserialize,
  type Report_Serialize,
  type TeamFigures_Serialize,
  type ChannelConsent_Serialize,
  type ConsentRecord_Serialize,
  type AssistAnnouncement_Serialize,
  type AssistSettings_Serialize,
  type AssistChange_Deserialize,
  type AssistPreview,
  type AssistOutcome,
  type Ask,
  type LabelSuggestion,
  type RewriteAs,
  type Audience_Serialize,
  type AudienceFilter_Deserialize,
  type BroadcastDraft_Deserialize,
  type BroadcastOptions_Serialize,
  type BroadcastTemplate,
  type CampaignAction,
  type CampaignCounts,
  type Campaign_Serialize,
  type ReceivedCampaign,
  type RecipientPage_Serialize,
  type CampaignRecipient_Serialize,
} from './bindings';
export type { AssistPreview, AssistOutcome, Ask, LabelSuggestion, RewriteAs };
/** AI assist as the relay announced it to every desk (never the key). */
export type AssistAnnouncement = AssistAnnouncement_Serialize;
/** The workspace's AI settings as the relay answers them (never the key). */
export type AssistSettings = AssistSettings_Serialize;
/** What an owner changes in the AI settings. */
export type AssistChange = AssistChange_Deserialize;

export type { CacheCounts, CacheStatus, CannedReply, CommandError, ErrorCode, PageKey, Permission, Role } from './bindings';
/** Every role a member can hold, from the least to the most trusted (from Rust's `Role::ALL`). */
export { ROLES } from './bindings';
export type ConversationSummary = ConversationSummary_Serialize;
export type MessageView = MessageView_Serialize;
export type ConversationView = ConversationView_Serialize;
export type SearchHit = SearchHit_Serialize;
export type DeskStatus = DeskStatus_Serialize;
export type ConversationFilter = ConversationFilter_Deserialize;
export type ConversationAction = ConversationAction_Deserialize;
export type { TemplateView, Teammate };
export type TeamView = TeamView_Serialize;
export type Invitation = Invitation_Serialize;
export type Device = Device_Serialize;
export type AuditPage = AuditPage_Serialize;
export type AuditEntry = AuditPage_Serialize['entries'][number];
export type ChannelInfo = ChannelInfo_Serialize;
export type SignupOutcome = SignupOutcome_Serialize;
export type { About };
export type UpdateStatus = UpdateStatus_Serialize;
export type { OpenedLink };
export type Identity = Identity_Serialize;
export type MemberChange = MemberChange_Deserialize;
export type Remembered = Remembered_Serialize;
export type { ErasurePreview, ErasureReceipt, ExportProgressed, ExportSummary, Retention };
/** The workspace's automation setup, as Team → Automation edits it and saves it whole. */
export type Setup = Setup_Serialize;
/** A team of the setup: its members, how it assigns, its hours and first-response target. */
export type Team = Team_Serialize;
export type Hours = Hours_Serialize;
export type Texts = Texts_Serialize;
export type Menu = Menu_Serialize;
export type { Assignment, MenuOption, PreviewMessage, Span };
/** The setup as the relay keeps it: its version (0: never saved), when and by whom. */
export type AutomationSetup = AutomationSetup_Serialize;
/** What a setup would have done over the last 7 days of this desk's cache. */
export type AutomationPreview = AutomationPreview_Serialize;
export type PreviewConversation = PreviewConversation_Serialize;
/** A member's presence: what they set (`status`) and what counts (`presence`). */
export type MemberPresence = MemberPresence_Serialize;
/** A report's figures over a range and filters, computed on this desk (`zentro_core::reports`). */
export type Report = Report_Serialize;
/** What a report covers: days in a time zone, and the filters. */
export type ReportQuery = ReportQuery_Deserialize;
export type AgentFigures = AgentFigures_Serialize;
export type TeamFigures = TeamFigures_Serialize;
export type { ChannelFigures, DayFigures };
/** A customer's consent to marketing messages on one channel, with its history (newest first). */
export type ChannelConsent = ChannelConsent_Serialize;
/** One consent record: opted in or out, when, how and by whom. */
export type ConsentRecord = ConsentRecord_Serialize;
/** What the Broadcasts page offers: WhatsApp numbers, labels, attribute names, the workspace's time zone, who may manage. */
export type BroadcastOptions = BroadcastOptions_Serialize;
/** Which customers a campaign goes to (a number, labels, attributes, last message). */
export type AudienceFilter = AudienceFilter_Deserialize;
/** What a filter chooses: the count, the first customers and those left out by reason. */
export type Audience = Audience_Serialize;
/** A campaign an admin asks for. */
export type BroadcastDraft = BroadcastDraft_Deserialize;
/** A campaign as the relay reports it, with its counts. */
export type Campaign = Campaign_Serialize;
/** A page of a campaign's recipients. */
export type RecipientPage = RecipientPage_Serialize;
/** One recipient's outcome. */
export type CampaignRecipient = CampaignRecipient_Serialize;
export type { BroadcastTemplate, CampaignAction, CampaignCounts, ReceivedCampaign };
/** What a member may set as their own status. */
export type PresenceStatus = 'available' | 'away';

const ERROR_CODES: readonly ErrorCode[] = [
  'cache_unavailable',
  'window_closed',
  'invalid',
  'not_found',
  'signed_out',
  'forbidden',
  'offline',
  'conflict',
  'not_openable',
  'internal',
];

/** A failed command. Branch on `code`; show `message` to people. */
export class IpcError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'IpcError';
    this.code = code;
  }

  /** Normalises whatever a command rejected with into an `IpcError`. */
  static from(raw: unknown): IpcError {
    if (raw instanceof IpcError) return raw;
    if (isCommandError(raw)) return new IpcError(raw.code, raw.message);
    // Tauri itself (an unknown command, a permission denial) rejects with a plain string.
    const message = typeof raw === 'string' ? raw : raw instanceof Error ? raw.message : String(raw);
    return new IpcError('internal', message);
  }
}

function isCommandError(raw: unknown): raw is CommandError {
  if (typeof raw !== 'object' || raw === null) return false;
  const candidate = raw as Record<string, unknown>;
  return (
    typeof candidate.message === 'string' &&
    typeof candidate.code === 'string' &&
    (ERROR_CODES as readonly string[]).includes(candidate.code)
  );
}

type Result<T> = { status: 'ok'; data: T } | { status: 'error'; error: CommandError };

async function unwrap<T>(call: () => Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call();
  } catch (raw) {
    throw IpcError.from(raw);
  }
  if (result.status === 'ok') return result.data;
  throw IpcError.from(result.error);
}

/** Opens the local cache if needed and summarises it. */
export function cacheStatus(): Promise<CacheStatus> {
  return unwrap(() => commands.cacheStatus());
}

/** What runs behind the inbox (sandbox, relay, signed out) and how sync is doing. */
export async function deskStatus(): Promise<DeskStatus> {
  try {
    return await commands.deskStatus();
  } catch (raw) {
    throw IpcError.from(raw);
  }
}

/** Signs this computer in to a relay; the desk restarts against it (the status follows by event). */
export function signIn(relayUrl: string, email: string, password: string): Promise<DeskStatus> {
  return unwrap(() => commands.signIn(relayUrl, email, password)) as Promise<DeskStatus>;
}

/** A page of conversations, newest activity first, after `after`. */
export function conversations(
  filter: ConversationFilter,
  after: PageKey | null,
  limit = 50,
): Promise<ConversationSummary[]> {
  return unwrap(() => commands.conversations(filter, after, limit));
}

/** A page of messages, newest first, before `before` (or the newest). */
export function messages(conversationId: number, before: PageKey | null, limit = 50): Promise<MessageView[]> {
  return unwrap(() => commands.messages(conversationId, before, null, limit));
}

/** A page of messages, oldest first, after `after`. */
export function messagesAfter(conversationId: number, after: PageKey, limit = 50): Promise<MessageView[]> {
  return unwrap(() => commands.messages(conversationId, null, after, limit));
}

/** A conversation's details, state and notes; marks it read on this device. */
export function openConversation(conversationId: number): Promise<ConversationView> {
  return unwrap(() => commands.openConversation(conversationId));
}

/** Tells Rust which conversation is on screen (it gets no OS notifications). */
export function setViewing(conversationId: number | null): Promise<void> {
  return commands.setViewing(conversationId).then(() => undefined, () => undefined);
}

/** Tells the shell the first inbox page is painted (the cold-start mark); never fails. */
export function inboxPainted(rows: number): Promise<void> {
  return commands.inboxPainted(rows).then(() => undefined, () => undefined);
}

/** Searches all history. */
export function search(query: string): Promise<SearchHit[]> {
  return unwrap(() => commands.search(query));
}

/** A stored media file as a data URL, or null while it downloads. */
export function media(messageId: number): Promise<string | null> {
  return unwrap(() => commands.media(messageId));
}

/**
 * Opens a message's file in the system's default application. Programs and scripts are refused
 * with code `not_openable`: show the warning and offer {@link saveMedia}.
 */
export function openMedia(messageId: number): Promise<null> {
  return unwrap(() => commands.openMedia(messageId));
}

/** Saves a message's file to the Downloads folder and shows it in the file manager; where it went. */
export function saveMedia(messageId: number): Promise<string> {
  return unwrap(() => commands.saveMedia(messageId));
}

/** Queues a reply; it goes out as soon as the network allows. */
export function sendReply(conversationId: number, text: string, replyTo: string | null): Promise<string> {
  return unwrap(() => commands.sendReply(conversationId, text, replyTo));
}

/** The workspace's members (for assigning and @mentions). */
export function members(): Promise<Teammate[]> {
  return unwrap(() => commands.members());
}

/** The team's canned replies. */
export function cannedReplies(): Promise<CannedReply[]> {
  return unwrap(() => commands.cannedReplies());
}

/** Saves (or replaces) a canned reply for the team. */
export function saveCannedReply(shortcut: string, body: string): Promise<null> {
  return unwrap(() => commands.saveCannedReply(shortcut, body));
}

/** Deletes a canned reply for the team. */
export function deleteCannedReply(shortcut: string): Promise<null> {
  return unwrap(() => commands.deleteCannedReply(shortcut));
}

/** The approved WhatsApp templates this conversation may send (asks Meta). */
export function templates(conversationId: number): Promise<TemplateView[]> {
  return unwrap(() => commands.templates(conversationId));
}

/** Queues a template with its variables; allowed outside the 24-hour window. */
export function sendTemplate(conversationId: number, template: TemplateView, variables: string[]): Promise<string> {
  return unwrap(() => commands.sendTemplate(conversationId, template, variables));
}

/** Sends a file with an optional caption (WhatsApp); it shows in the thread at once. */
export async function sendAttachment(conversationId: number, file: File, caption: string): Promise<string> {
  const data = await new Promise<string>((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ''));
    reader.onerror = () => reject(new IpcError('invalid', `Could not read ${file.name}.`));
    reader.readAsDataURL(file);
  });
  return unwrap(() => commands.sendAttachment(conversationId, file.name, file.type || 'application/octet-stream', data, caption));
}

/** Tries a failed reply again. */
export function retryReply(clientId: string): Promise<string> {
  return unwrap(() => commands.retryReply(clientId));
}

/** Assigns, changes status, adds a note or a label, for the whole team. */
export function act(conversationId: number, action: ConversationAction): Promise<null> {
  return unwrap(() => commands.actOnConversation(conversationId, action));
}

/** The consent of the customer in a conversation, per channel (their contact, then linked ones). */
export function consent(conversationId: number): Promise<ChannelConsent[]> {
  return unwrap(() => commands.consent(conversationId));
}

/** Records what a customer told the member about their consent on a contact's channel. */
export function recordConsent(contactId: number, optedIn: boolean, note: string | null): Promise<null> {
  return unwrap(() => commands.recordConsent(contactId, optedIn, note));
}

/** Who this member is now, what they may do, and the team. */
export function team(): Promise<TeamView> {
  return unwrap(() => commands.team());
}

/** Invites someone by email; the code and link are to hand to them. */
export function inviteMember(email: string, displayName: string, role: Role): Promise<Invitation> {
  return unwrap(() => commands.inviteMember(email, displayName, role));
}

/** Changes a member's role or status (deactivation signs all their devices out). */
export function updateMember(memberId: string, change: MemberChange): Promise<Teammate> {
  return unwrap(() => commands.updateMember(memberId, change));
}

/** Removes a member. */
export function removeMember(memberId: string): Promise<null> {
  return unwrap(() => commands.removeMember(memberId));
}

/** Signed-in devices: mine, or everyone's (`all`, admins). */
export function devices(all: boolean): Promise<Device[]> {
  return unwrap(() => commands.devices(all));
}

/** Signs a device out. */
export function revokeDevice(deviceId: string): Promise<null> {
  return unwrap(() => commands.revokeDevice(deviceId));
}

/** A page of the audit log, newest first, before an entry id. */
export function auditLog(before: number | null): Promise<AuditPage> {
  return unwrap(() => commands.auditLog(before));
}

/** The workspace's channels and whether this member may use each. */
export function channels(): Promise<ChannelInfo[]> {
  return unwrap(() => commands.channels());
}

/** Stores or rotates a channel's Meta token on the relay (sealed); devices fetch it. */
export function setChannelToken(channelId: string, token: string): Promise<ChannelInfo> {
  return unwrap(() => commands.setChannelToken(channelId, token));
}

/** Revokes a channel's token; every device drops its copy. */
export function revokeChannelToken(channelId: string): Promise<null> {
  return unwrap(() => commands.revokeChannelToken(channelId));
}

/** Sets the agents allowed on a channel (empty: everyone; admins and owners always are). */
export function setChannelAccess(channelId: string, agents: string[]): Promise<null> {
  return unwrap(() => commands.setChannelAccess(channelId, agents));
}

/**
 * Connects channels through Meta (owners): `whatsapp` (Embedded Signup) or `pages` (Facebook
 * Pages and their Instagram accounts). Resolves when the signup window closes, with how it ended.
 */
export function connectChannels(kind: 'whatsapp' | 'pages'): Promise<SignupOutcome> {
  return unwrap(() => commands.connectChannels(kind));
}

/** Asks the relay to check a channel at Meta now. */
export function checkChannel(channelId: string): Promise<ChannelInfo> {
  return unwrap(() => commands.checkChannel(channelId));
}

/** Disconnects a channel (admins): unsubscribed at Meta, its token deleted everywhere. */
export function disconnectChannel(channelId: string): Promise<ChannelInfo> {
  return unwrap(() => commands.disconnectChannel(channelId));
}

/** The app's version and where it keeps its data and logs. */
export function about(): Promise<About> {
  return commands.about();
}

/** Starts the app hidden in the tray, or with its window, from the next start. */
export function setStartMinimized(on: boolean): Promise<About> {
  return unwrap(() => commands.setStartMinimized(on));
}

/** The running version, the update server, the last check and an update on offer. */
export function updateStatus(): Promise<UpdateStatus> {
  return unwrap(() => commands.updateStatus()) as Promise<UpdateStatus>;
}

/** Asks the update server now (a failure is in the status's `problem`). */
export function checkForUpdate(): Promise<UpdateStatus> {
  return unwrap(() => commands.checkForUpdate()) as Promise<UpdateStatus>;
}

/** Downloads, verifies and installs the offered update, then restarts into it. */
export function installUpdate(): Promise<UpdateStatus> {
  return unwrap(() => commands.installUpdate()) as Promise<UpdateStatus>;
}

/** Chooses this installation's update server; null goes back to the app's own. */
export function setUpdateEndpoint(endpoint: string | null): Promise<UpdateStatus> {
  return unwrap(() => commands.setUpdateEndpoint(endpoint)) as Promise<UpdateStatus>;
}

/** Calls `callback` with every change of the update status (checks, download progress). */
export function onUpdateStatus(callback: (status: UpdateStatus) => void): Promise<() => void> {
  return events.updateStatusChanged.listen((event) => callback(event.payload as UpdateStatus));
}

/** Customers that could be the same person as this conversation's (name, phone, username, id). */
export function linkCandidates(conversationId: number, query: string): Promise<Identity[]> {
  return unwrap(() => commands.linkCandidates(conversationId, query)) as Promise<Identity[]>;
}

/** The `zentro://` link opened last (clicked elsewhere on the computer), if not taken yet. */
export function takeLink(): Promise<OpenedLink | null> {
  return commands.takeLink();
}

/** Calls `callback` when a `zentro://` link was opened (then take it with `takeLink`). */
export function onLinkOpened(callback: () => void): Promise<() => void> {
  return events.linkOpened.listen(() => callback());
}

/** Opens the log folder in the system's file manager. */
export function openLogsFolder(): Promise<null> {
  return unwrap(() => commands.openLogsFolder());
}

/** Renames the workspace (owners). */
export function renameWorkspace(name: string): Promise<null> {
  return unwrap(() => commands.renameWorkspace(name));
}

/** Terminates the workspace for good (owners); `confirm` is its exact name. */
export function terminateWorkspace(confirm: string): Promise<null> {
  return unwrap(() => commands.terminateWorkspace(confirm));
}

/** What erasing the customer of a conversation would delete. */
export function erasurePreview(conversationId: number): Promise<ErasurePreview> {
  return unwrap(() => commands.erasurePreview(conversationId));
}

/** Erases a customer from every device and the relay (admins). Cannot be undone. */
export function eraseContact(contactId: number): Promise<ErasureReceipt> {
  return unwrap(() => commands.eraseContact(contactId));
}

function progressChannel(onProgress: (p: ExportProgressed) => void): Channel<ExportProgressed> {
  const channel = new Channel<ExportProgressed>();
  channel.onmessage = onProgress;
  return channel;
}

/** Exports the customer of a conversation to the Downloads folder (admins; audited). */
export function exportContact(conversationId: number, onProgress: (p: ExportProgressed) => void): Promise<ExportSummary> {
  return unwrap(() => commands.exportContact(conversationId, progressChannel(onProgress)));
}

/** Exports every customer to the Downloads folder (admins; audited). */
export function exportAll(onProgress: (p: ExportProgressed) => void): Promise<ExportSummary> {
  return unwrap(() => commands.exportAll(progressChannel(onProgress)));
}

/** Shows an export in the file manager. */
export function revealExport(path: string): Promise<null> {
  return unwrap(() => commands.revealExport(path));
}

/** The workspace's retention periods (null: kept). */
export function retention(): Promise<Retention> {
  return unwrap(() => commands.retention());
}

/** Sets the workspace's retention periods (admins); every device enforces them. */
export function setRetention(periods: Retention): Promise<Retention> {
  return unwrap(() => commands.setRetention(periods));
}

/** The last relay and email, and whether the first-run choice was made. */
export async function rememberedSignIn(): Promise<Remembered> {
  try {
    return await commands.rememberedSignIn();
  } catch (raw) {
    throw IpcError.from(raw);
  }
}

/** Records the first-run choice. */
export function finishWelcome(): Promise<null> {
  return unwrap(() => commands.finishWelcome());
}

/** Accepts an invitation with a new password and syncs with that workspace. */
export function joinWorkspace(relayUrl: string, code: string, password: string): Promise<DeskStatus> {
  return unwrap(() => commands.joinWorkspace(relayUrl, code, password)) as Promise<DeskStatus>;
}

/** Reads `zentro://invite?relay=…&code=…` (as the Team page hands it out), or null. */
export function parseInvitationLink(text: string): { relay: string; code: string } | null {
  const match = /^zentro:\/\/invite\?(.*)$/i.exec(text.trim());
  if (!match) return null;
  const params = new URLSearchParams(match[1]);
  const relay = params.get('relay');
  const code = params.get('code');
  return relay && code ? { relay, code } : null;
}

/** Calls `callback` whenever the cache changed (new messages, statuses, team actions). */
export function onInboxChanged(callback: () => void): Promise<() => void> {
  return events.inboxChanged.listen(() => callback());
}

/** Calls `callback` with every new desk status. */
export function onDeskStatus(callback: (status: DeskStatus) => void): Promise<() => void> {
  return events.deskStatusChanged.listen((event) => callback(event.payload as DeskStatus));
}

/** Opens a web link (http or https) in the default browser; Rust refuses anything else (`invalid`). */
export function openExternal(url: string): Promise<void> {
  return unwrap(() => commands.openWebLink(url)).then(() => undefined);
}

/** The workspace's automation setup, its version and who saved it last (any member). */
export function automationSetup(): Promise<AutomationSetup> {
  return unwrap(() => commands.automationSetup());
}

/**
 * Saves `setup` in place of version `expectedVersion` (admins and owners); the new version.
 * Rejects with `conflict` when someone saved meanwhile (reload, then apply the change again),
 * `invalid` with what to fix, `forbidden` for agents.
 */
export function saveAutomationSetup(expectedVersion: number, setup: Setup): Promise<number> {
  return unwrap(() => commands.saveAutomationSetup(expectedVersion, setup));
}

/** What `setup` would have done over the last 7 days of this desk's cache, before saving it. */
export function previewAutomation(setup: Setup): Promise<AutomationPreview> {
  return unwrap(() => commands.previewAutomation(setup));
}

/** Sets this member's own status; the presence that now counts (`available`, `away`, `offline`). */
export function setPresence(status: PresenceStatus): Promise<string> {
  return unwrap(() => commands.setPresence(status));
}

/** Every member's presence. */
export function presence(): Promise<MemberPresence[]> {
  return unwrap(() => commands.presence());
}

/**
 * The report of `query`'s days and filters, computed on this desk from its cache (nothing is sent
 * anywhere). Rejects with `invalid` naming the day or time zone that can't be used.
 */
export function report(query: ReportQuery): Promise<Report> {
  return unwrap(() => commands.report(query));
}

/** The computer's IANA time zone (`UTC` when the system names none): reports count days in it. */
export function deskTimeZone(): Promise<string> {
  return commands.deskTimeZone().catch((raw) => {
    throw IpcError.from(raw);
  });
}

/**
 * Saves a report table written as CSV to the Downloads folder as `zentro-report-<name>-<date>.csv`
 * and shows it in the file manager; where it went.
 */
export function saveReportCsv(name: string, csv: string): Promise<string> {
  return unwrap(() => commands.saveReportCsv(name, csv));
}

/** AI assist as the relay last announced it to this desk (`null`: never turned on); from the cache. */
export function assistStatus(): Promise<AssistAnnouncement | null> {
  return unwrap(() => commands.assistStatus());
}

/** The workspace's AI settings and this month's spending (never the key). */
export function assistSettings(): Promise<AssistSettings> {
  return unwrap(() => commands.assistSettings());
}

/** Changes the workspace's AI settings (owners); as saved. */
export function saveAssistSettings(change: AssistChange): Promise<AssistSettings> {
  return unwrap(() => commands.saveAssistSettings(change));
}

/** Exactly what `ask` would send about a conversation, without sending it. */
export function assistPreview(conversationId: number, ask: Ask): Promise<AssistPreview> {
  return unwrap(() => commands.assistPreview(conversationId, ask));
}

/** Asks for a summary, draft or rewrite; `onPiece` gets each piece of the answer as it arrives. */
export function assistStream(conversationId: number, ask: Ask, onPiece: (piece: string) => void): Promise<AssistOutcome> {
  const pieces = new Channel<string>();
  pieces.onmessage = onPiece;
  return unwrap(() => commands.assistStream(conversationId, ask, pieces));
}

/** Suggested intent and sentiment labels for the customer's latest message (not applied). */
export function assistLabels(conversationId: number): Promise<LabelSuggestion> {
  return unwrap(() => commands.assistLabels(conversationId));
}

/** What the Broadcasts page offers: WhatsApp numbers, labels, attribute names, the workspace's time zone, whether this member manages campaigns. */
export function broadcastOptions(): Promise<BroadcastOptions> {
  return unwrap(() => commands.broadcastOptions());
}

/** The approved templates a WhatsApp number may send, with their category; `refresh` reads them from Meta first (admins). */
export function broadcastTemplates(channelId: string, refresh = false): Promise<BroadcastTemplate[]> {
  return unwrap(() => commands.broadcastTemplates(channelId, refresh));
}

/** How many customers `filter` chooses, the first of them and those left out by reason (on this desk's cache). */
export function broadcastAudience(filter: AudienceFilter, marketing: boolean, timeZone: string): Promise<Audience> {
  return unwrap(() => commands.broadcastAudience(filter, marketing, timeZone));
}

/** Creates and starts a campaign (admins): the eligible recipients handed to the relay. */
export function createBroadcast(draft: BroadcastDraft): Promise<Campaign> {
  return unwrap(() => commands.createBroadcast(draft));
}

/** The workspace's campaigns, newest first (from the relay). */
export function broadcasts(): Promise<Campaign[]> {
  return unwrap(() => commands.broadcasts());
}

/** One campaign with its counts (from the relay). */
export function broadcast(id: string): Promise<Campaign> {
  return unwrap(() => commands.broadcast(id));
}

/** A page of a campaign's recipients with their outcomes, after cursor `after`. */
export function broadcastRecipients(id: string, after: string | null): Promise<RecipientPage> {
  return unwrap(() => commands.broadcastRecipients(id, after));
}

/** Pauses, resumes or cancels a campaign (admins); the campaign as it is now. */
export function steerBroadcast(id: string, action: CampaignAction): Promise<Campaign> {
  return unwrap(() => commands.steerBroadcast(id, action));
}

/** Saves a campaign's recipients and outcomes as CSV in the Downloads folder; where it went. */
export function saveBroadcastCsv(id: string, name: string): Promise<string> {
  return unwrap(() => commands.saveBroadcastCsv(id, name));
}

/** The campaigns the customer of a conversation received, newest first (from the relay). */
export function campaignsReceived(conversationId: number): Promise<ReceivedCampaign[]> {
  return unwrap(() => commands.campaignsReceived(conversationId));
}
