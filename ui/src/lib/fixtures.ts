// Test data, one copy for every UI test: the unit tests (src/**/*.test.ts) answer mockIPC with it
// and the browser tests' fake backend (browser/fake-backend.ts) serves it to Chromium. Each record
// is typed as Rust sends it (the generated bindings, through ../ipc), so a changed shape fails the
// type check here once instead of in every test. Nothing in the app imports this file.
import type { CacheStatus, ChannelInfo, ConversationSummary, ConversationView, DeskStatus, MessageView, PageKey, Permission, Report, Role, TeamView } from './ipc';

/** The moment the fixtures' times are relative to (UTC ms). */
export const NOW = Date.now();

const MINUTE = 60_000;
const CHANNELS = ['whatsapp', 'instagram', 'messenger'];

/** What `cache_status` answers. */
export function cacheStatus(overrides: Partial<CacheStatus> = {}): CacheStatus {
  return {
    path: '/data/cache.sqlite',
    schemaVersion: 1,
    latestMigration: 'create cache',
    writtenByNewerApp: false,
    counts: { channels: 0, contacts: 2, conversations: 0, messages: 5 },
    ...overrides,
  };
}

/** What `desk_status` answers: the sandbox, signed in as member m1. */
export function deskStatus(overrides: Partial<DeskStatus> = {}): DeskStatus {
  return {
    mode: 'sandbox',
    sync: 'live',
    behind: 0,
    detail: null,
    member_id: 'm1',
    member_name: 'You',
    member_role: null,
    workspace_name: 'Sandbox Coffee Co.',
    ...overrides,
  };
}

/** Conversation `id` in a list: the further down (higher id), the older its last activity. */
export function conversationSummary(id: number, overrides: Partial<ConversationSummary> = {}): ConversationSummary {
  return {
    id,
    contact_name: `Customer ${id}`,
    channel_kind: CHANNELS[id % 3],
    status: 'open',
    assignee_id: null,
    unread_count: id % 4,
    preview: `Message from customer ${id}`,
    last_activity_at: NOW - id * MINUTE,
    team_id: null,
    first_response_due_at: null,
    sla: null,
    ...overrides,
  };
}

/** Ana Souza's WhatsApp conversation, with two unread messages. */
export const ANA = conversationSummary(7, {
  contact_name: 'Ana Souza',
  channel_kind: 'whatsapp',
  unread_count: 2,
  preview: 'This is the tracking label',
  last_activity_at: NOW - MINUTE,
});

/** Message `id`: an outbound one was read; the higher the id, the newer. */
export function message(id: number, direction: string, body: string, extra: Partial<MessageView> = {}): MessageView {
  return {
    id,
    external_id: `wamid.${id}`,
    direction,
    kind: 'text',
    body,
    caption: null,
    sent_at: NOW - 100_000 + id,
    delivery_status: direction === 'outbound' ? 'read' : null,
    reaction: null,
    deleted: false,
    file_name: null,
    media_mime: null,
    media_url: null,
    media_stored: false,
    quoted_external_id: null,
    edited_at: null,
    error_message: null,
    author_member_id: null,
    author_label: null,
    client_id: null,
    ...extra,
  };
}

type ViewChanges = { details?: Partial<ConversationView['details']>; state?: Partial<ConversationView['state']> };

/** What `open_conversation` answers for Ana (conversation 7), its reply window closing at `windowClosesAt`. */
export function conversationView(windowClosesAt: number | null, changes: ViewChanges = {}): ConversationView {
  return {
    details: {
      id: 7,
      contact_name: 'Ana Souza',
      channel_kind: 'whatsapp',
      files_carry_captions: true,
      customer_id: 'BR.1',
      phone: '5511987654321',
      username: null,
      email: null,
      attributes: '{"plan":"gold"}',
      restricted: false,
      last_inbound_at: NOW - 60 * MINUTE,
      window_closes_at: windowClosesAt,
      link: 'zentro://conversation?channel=ch_1&contact=BR.1',
      ...changes.details,
    },
    state: { status: 'open', snoozed_until: null, assignee: null, labels: ['vip'], ...changes.state },
    notes: [],
    identities: [],
  };
}

/** A teammate as `members` lists them. */
export function teammate(id: string, email: string, display_name: string, role: Role, status = 'active') {
  return { id, email, display_name, role, status, created_at: null, last_sign_in_at: null };
}

/** Acme's team: Olga (owner) and Ana (agent). */
export const MEMBERS = [
  { ...teammate('m1', 'olga@acme.test', 'Olga', 'owner'), created_at: NOW, last_sign_in_at: NOW },
  { ...teammate('m2', 'ana@acme.test', 'Ana', 'agent'), created_at: NOW },
];

/** What `team` answers to Ana, holding `role` and `permissions` in Acme. */
export function teamView(role: Role, permissions: Permission[]): TeamView {
  return { me: { ...MEMBERS[1], role }, permissions, workspace_name: 'Acme', members: MEMBERS };
}

/** A WhatsApp channel as `channels` lists it: connected, with a token, open to everyone. */
export function channelInfo(id: string, overrides: Partial<ChannelInfo> = {}): ChannelInfo {
  return {
    id,
    kind: 'whatsapp',
    external_id: `10${id}`,
    display_name: '',
    token_version: 1,
    agents: [],
    allowed: true,
    health: 'connected',
    health_reason: null,
    phone_number: null,
    quality_rating: null,
    rotation_advised: [],
    ...overrides,
  };
}

/**
 * A workspace of `total` conversations, numbered 1 to `total` newest first, as `conversations`
 * pages it: up to `limit` after the key `after` (the last row of the page before), made on demand.
 */
export function conversationsPage(
  total: number,
  after: PageKey | null,
  limit: number,
  make: (id: number) => ConversationSummary = (id) => conversationSummary(id),
): ConversationSummary[] {
  const start = after ? after.id + 1 : 1;
  const out: ConversationSummary[] = [];
  for (let id = start; id < start + limit && id <= total; id++) out.push(make(id));
  return out;
}

/**
 * A conversation of `total` messages, numbered 1 (oldest) to `total`, as `messages` pages it:
 * newest first before the key `before` (or from the newest), or oldest first after the key `after`.
 */
export function messagesPage(
  total: number,
  before: PageKey | null,
  after: PageKey | null,
  limit: number,
  make: (id: number) => MessageView,
): MessageView[] {
  const out: MessageView[] = [];
  if (after) {
    for (let id = after.id + 1; id <= total && out.length < limit; id++) out.push(make(id));
  } else {
    const top = before ? before.id - 1 : total;
    for (let id = top; id >= 1 && out.length < limit; id--) out.push(make(id));
  }
  return out;
}

/**
 * What `report` answers for 1 February to 1 March 2026 in Berlin: Olga (m1) and a member the desk
 * no longer lists whose email reads like a spreadsheet formula; WhatsApp and Instagram; Support
 * with a first-response target, Billing without; customers writing most on Tuesdays at 10:00;
 * twenty survey answers (sixteen rated 4 or 5) and a comment that reads like a formula.
 */
export function report(overrides: Partial<Report> = {}): Report {
  const daily = [];
  for (let i = 0; i < 29; i++) {
    const day = new Date(Date.UTC(2026, 1, 1 + i)).toISOString().slice(0, 10);
    daily.push({ day, received: 4 + (i % 7), sent: 2 + (i % 5), opened: 1 + (i % 3), resolved: i % 4 });
  }
  const received_by_weekday_hour = Array.from({ length: 7 }, (_, d) => Array.from({ length: 24 }, (_, h) => (h >= 9 && h < 18 ? d + 1 : 0)));
  received_by_weekday_hour[1][10] = 42;
  return {
    since: '2026-02-01',
    until: '2026-03-01',
    time_zone: 'Europe/Berlin',
    business_hours_only: false,
    conversations: { opened: 58, resolved: 47, reopened: 6 },
    messages: { received: 150, sent: 76 },
    first_response_seconds: { median: 272, p90: 5400, count: 52 },
    resolution_seconds: { median: 7380, p90: 190800, count: 47 },
    queue: { open_unassigned: 3, oldest_waiting_seconds: 5700, median_waiting_seconds: 1260 },
    by_agent: [
      { member_id: 'm1', email: 'olga@acme.test', assigned: 12, replied: 40, resolved: 9, first_response_median_seconds: 95 },
      { member_id: 'm9', email: "=cmd|' /C calc'!A0", assigned: 3, replied: 5, resolved: 2, first_response_median_seconds: null },
    ],
    by_channel: [
      { channel_kind: 'whatsapp', received: 120, sent: 64 },
      { channel_kind: 'instagram', received: 30, sent: 12 },
    ],
    by_team: [
      { team_id: 'support', name: 'Support', opened: 30, resolved: 25, first_response_median_seconds: 300, sla_breached: 4 },
      { team_id: 'billing', name: 'Billing', opened: 8, resolved: 7, first_response_median_seconds: null, sla_breached: 0 },
    ],
    received_by_weekday_hour,
    daily,
    sla: { breached: 4, met: 26 },
    satisfaction: {
      responses: 20,
      average: 4.05,
      satisfied: 16,
      distribution: [1, 1, 2, 8, 8],
      by_agent: [{ member_id: 'm1', responses: 14, average: 4.2142857 }],
      by_team: [{ team_id: 'support', responses: 12, average: 3.9 }],
      comments: [{ at: Date.UTC(2026, 1, 20, 9, 30), rating: 2, comment: '=HYPERLINK("x") too slow', member_id: 'm1', team_id: 'support', conversation_id: 7 }],
    },
    ...overrides,
  };
}
