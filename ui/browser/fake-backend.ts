// A fake Rust side for the browser tests and the UI benchmark, injected before the app loads: it
// answers the app's commands like src-tauri would, from data computed on demand (so 100,000
// messages and 50,000 conversations cost no memory until a page is asked for).
//
// Why this is not a mock of our own parts: it replaces only the Rust side, so that the UI can be
// measured and driven at a scale (tens of thousands of rows) in a real browser's DOM; nothing the
// UI does is stubbed, and the tests over it assert what Chromium renders. The real app, Rust and UI
// together, is tested end to end by the WebDriver suite. To keep the stand-in honest, every command
// it answers is typed against the bindings generated from the Rust commands (src/lib/ipc/bindings.ts):
// its arguments are the binding's parameters and its answer the binding's data type, so a command
// whose shape changes in Rust fails `npm run check` here until this file follows.
//
// The harness (harness.ts) bundles this file into a classic script at test time. Options, set by
// the page's init script before it:
//   window.__FAKE__ = { conversations: N, messages: M }
//
// Its data is the unit tests' (src/lib/fixtures.ts): the same records, paged the same way.
import type { commands } from '../src/lib/ipc/bindings';
import type { AutomationSetup, CommandError, ConversationSummary, MemberPresence, Setup } from '../src/lib/ipc';
import {
  NOW,
  MEMBERS,
  cacheStatus,
  channelInfo,
  conversationSummary,
  conversationView,
  conversationsPage,
  deskStatus,
  message as messageFixture,
  messagesPage,
  report as reportFixture,
  teammate,
} from '../src/lib/fixtures';
import { defaultConsent } from '../src/lib/stores/automation.svelte';

type Commands = typeof commands;
type Command = keyof Commands;
/** A binding's result as Rust returns it: the data of its `ok` (or the value, for commands that cannot fail). */
type Data<R> = R extends { status: 'error'; error: unknown } ? never : R extends { status: 'ok'; data: infer T } ? T : R;
/** What command `K` returns in Rust. */
type Out<K extends Command> = Data<Awaited<ReturnType<Commands[K]>>>;
/** A stand-in for command `K`: the generated binding's parameters in, what the Rust command returns out. */
type Answer<K extends Command> = (...args: Parameters<Commands[K]>) => Out<K>;
type Answers = { [K in Command]?: Answer<K> };

type Options = { conversations: number; messages: number };
type Page = {
  __FAKE__?: Options;
  __FAKE_CALLS__: string[];
  /** The automation as last saved, for the tests to read. */
  __FAKE_SAVED__?: AutomationSetup;
  /** The last report table saved as CSV, for the tests to read. */
  __FAKE_CSV__?: { name: string; csv: string };
  /** A customer message arrives in conversation `id`: the cache changed, as the shell says after sync. */
  __FAKE_INCOMING__: (id: number) => void;
  __TAURI_INTERNALS__: unknown;
  __TAURI_EVENT_PLUGIN_INTERNALS__: unknown;
};

const page = window as unknown as Page;
const options: Options = page.__FAKE__ ?? { conversations: 50000, messages: 100000 };
const calls: string[] = [];
page.__FAKE_CALLS__ = calls;

/** Conversation `i`'s team: every third one is Billing's, the others Support's. */
const teamOf = (i: number) => (i % 3 === 0 ? 'billing' : 'support');

/** Conversation 1 is Ana Souza's, the one with `options.messages` messages; 2 is about to miss its first-response target, 3 missed it. */
const conversation = (i: number): ConversationSummary =>
  conversationSummary(i, {
    ...(i === 1 ? { contact_name: 'Ana Souza', preview: 'Is my order on its way?' } : {}),
    team_id: teamOf(i),
    first_response_due_at: i === 2 ? NOW + 5 * 60000 : i === 3 ? NOW - 10 * 60000 : null,
    sla: i === 2 ? 'due_soon' : i === 3 ? 'breached' : null,
  });

/** A page of the conversations of `team` after `after`. */
function teamPage(team: string, after: { id: number } | null, limit: number): ConversationSummary[] {
  const out: ConversationSummary[] = [];
  for (let id = after ? after.id + 1 : 1; id <= options.conversations && out.length < limit; id++) {
    if (teamOf(id) === team) out.push(conversation(id));
  }
  return out;
}
const message = (conversationId: number, i: number) =>
  messageFixture(i, i % 3 === 0 ? 'outbound' : 'inbound', i === 7 ? 'Where is my invoice for March?' : `Message number ${i} in this conversation`, {
    external_id: `wamid.${conversationId}.${i}`,
    sent_at: NOW - (options.messages - i) * 60000,
  });
/** Messages that arrived while the page was open (the simulated day's), by conversation. */
const arrived = new Map<number, number>();
const count = (id: number) => (id === 1 ? options.messages : 20) + (arrived.get(id) ?? 0);

/** The automation as the relay keeps it: two teams, Support and Billing, with Olga (m1) and Ana (m2). */
let automation: AutomationSetup = {
  version: 1,
  saved_at: NOW - 86400000,
  saved_by: 'm1',
  setup: {
    enabled: true,
    hours: { time_zone: 'Europe/Lisbon', weekly: [0, 1, 2, 3, 4, 5, 6].map((d) => (d < 5 ? [{ start: '09:00', end: '17:00' }] : [])), holidays: [] },
    teams: [
      { id: 'support', name: 'Support', members: ['m1', 'm2'], assignment: 'round_robin', hours: null, first_response_minutes: 30 },
      { id: 'billing', name: 'Billing', members: ['m1'], assignment: 'manual', hours: null, first_response_minutes: null },
    ],
    capacities: {},
    channel_teams: {},
    greeting: { text: 'Hi! Thanks for writing.' },
    away: null,
    menu: null,
    agent_keywords: ['agent'],
    hand_back_after_minutes: null,
    csat: null,
    consent: defaultConsent(),
  },
};
const presences: MemberPresence[] = [
  { member_id: 'm1', status: 'available', presence: 'available', last_seen_at: NOW },
  { member_id: 'm2', status: 'away', presence: 'away', last_seen_at: NOW },
];

/** What the draft would have done to the first three conversations of the week. */
function preview(setup: Setup): Out<'previewAutomation'> {
  const conversations = [1, 2, 3].map((id) => {
    const first = setup.menu?.options[0]?.team ?? setup.teams[0]?.id ?? null;
    const team = setup.teams.find((t) => t.id === first) ?? null;
    const messages = [
      ...(setup.greeting ? [{ rule: 'greeting', text: setup.greeting.text, at: NOW - id * 3600000 }] : []),
      ...(setup.menu ? [{ rule: 'menu', text: setup.menu.prompt.text, at: NOW - id * 3600000 + 1000 }] : []),
    ];
    const assignee = team && team.assignment !== 'manual' ? (team.members[(id - 1) % team.members.length] ?? null) : null;
    return { conversation_id: id, contact_name: conversation(id).contact_name, channel_kind: conversation(id).channel_kind, team: team?.id ?? null, assignee, messages };
  });
  const count = (pick: (c: (typeof conversations)[number]) => number) => conversations.reduce((sum, c) => sum + pick(c), 0);
  return {
    since: NOW - 7 * 86400000,
    conversations_replayed: 5,
    conversations,
    messages_sent: count((c) => c.messages.length),
    routed: count((c) => (c.team ? 1 : 0)),
    assigned: count((c) => (c.assignee ? 1 : 0)),
  };
}

/** The refusal the shell sends when the relay answers 409 `version_conflict` (src-tauri/src/error.rs). */
const VERSION_CONFLICT: CommandError = { code: 'conflict', message: 'someone saved the automation meanwhile; reload and try again' };

// Each answer names its Rust return type (`Out<…>`) so that a field Rust does not have is an error
// too (a contextually typed arrow would let an extra field through); `satisfies` checks the rest.
const answers = {
  cacheStatus: (): Out<'cacheStatus'> =>
    cacheStatus({
      path: '/fake/cache.sqlite',
      schemaVersion: 4,
      latestMigration: 'contact profiles',
      counts: { channels: 3, contacts: options.conversations, conversations: options.conversations, messages: options.messages },
    }),
  deskStatus: (): Out<'deskStatus'> => deskStatus({ mode: 'relay', workspace_name: 'Fake Co.' }),
  conversations: (filter, after, limit): Out<'conversations'> => {
    const team = filter.team;
    return team ? teamPage(team, after, limit) : conversationsPage(options.conversations, after, limit, conversation);
  },
  messages: (conversationId, before, after, limit): Out<'messages'> =>
    messagesPage(count(conversationId), before, after, limit, (i) => message(conversationId, i)),
  openConversation: (conversationId): Out<'openConversation'> =>
    conversationView(NOW + 23 * 3600000, {
      details: {
        id: conversationId,
        contact_name: conversation(conversationId).contact_name,
        customer_id: `US.${conversationId}`,
        phone: '15550001111',
        attributes: '{}',
        last_inbound_at: NOW - 60000,
        link: `zentro://conversation?channel=ch_1&contact=US.${conversationId}`,
      },
      state: { labels: [] },
    }),
  search: (query): Out<'search'> =>
    query.toLowerCase().startsWith('invo') ? [{ conversation_id: 1, message_id: 7, snippet: 'Where is my [invoice] for March?', rank: 1 }] : [],
  media: (): Out<'media'> => null,
  sendReply: (): Out<'sendReply'> => 'cm_fake',
  retryReply: (): Out<'retryReply'> => 'cm_fake',
  actOnConversation: (): Out<'actOnConversation'> => null,
  consent: (): Out<'consent'> => [],
  recordConsent: (): Out<'recordConsent'> => null,
  campaignsReceived: (): Out<'campaignsReceived'> => [],
  setViewing: () => null, // Rust's `()` arrives as null (the binding says void)
  inboxPainted: () => null,
  templates: (): Out<'templates'> => [],
  members: (): Out<'members'> => [teammate('m1', 'you@fake.test', 'You', 'owner')],
  cannedReplies: (): Out<'cannedReplies'> => [],
  rememberedSignIn: (): Out<'rememberedSignIn'> => ({ relay_url: null, email: null, welcomed: true }),
  team: (): Out<'team'> => ({
    me: MEMBERS[0],
    permissions: ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data', 'manage_workspace', 'connect_channels'],
    workspace_name: 'Fake Co.',
    members: MEMBERS,
  }),
  channels: (): Out<'channels'> => [channelInfo('ch_1', { external_id: '1065', display_name: 'Fake Co. WhatsApp' })],
  automationSetup: (): Out<'automationSetup'> => automation,
  saveAutomationSetup: (expectedVersion, setup): Out<'saveAutomationSetup'> => {
    // A command's error reaches `invoke` as a rejection with the CommandError.
    if (expectedVersion !== automation.version) throw VERSION_CONFLICT;
    automation = { version: automation.version + 1, setup: setup as Setup, saved_at: Date.now(), saved_by: 'm1' };
    page.__FAKE_SAVED__ = automation;
    return automation.version;
  },
  previewAutomation: (setup): Out<'previewAutomation'> => preview(setup as Setup),
  presence: (): Out<'presence'> => presences,
  // The report of src/lib/fixtures.ts, over the range and zone asked for.
  report: (query): Out<'report'> =>
    reportFixture({ since: query.since, until: query.until, time_zone: query.time_zone, business_hours_only: query.business_hours_only }),
  deskTimeZone: (): Out<'deskTimeZone'> => 'Europe/Lisbon',
  saveReportCsv: (name, csv): Out<'saveReportCsv'> => {
    page.__FAKE_CSV__ = { name, csv };
    return `/home/fake/Downloads/zentro-report-${name}.csv`;
  },
  setPresence: (status): Out<'setPresence'> => {
    presences[0] = { ...presences[0], status, presence: status };
    return status;
  },
} satisfies Answers;

/** `open_conversation` → `openConversation`: the binding's name for the command `invoke` receives. */
const bindingName = (cmd: string) => cmd.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const isAnswered = (name: string): name is keyof typeof answers => Object.hasOwn(answers, name);

const callbacks = new Map<number, (data: unknown) => unknown>();
/** The callbacks listening to each event, as the shell's event plugin keeps them. */
const listeners = new Map<string, Set<number>>();
let next = 1;
page.__FAKE_INCOMING__ = (id: number) => {
  arrived.set(id, (arrived.get(id) ?? 0) + 1);
  for (const handler of listeners.get('inbox-changed') ?? []) callbacks.get(handler)?.({ event: 'inbox-changed', id: handler, payload: null });
};
page.__TAURI_INTERNALS__ = {
  transformCallback(callback?: (data: unknown) => unknown, once = false): number {
    const id = next++;
    callbacks.set(id, (data) => {
      if (once) callbacks.delete(id);
      return callback && callback(data);
    });
    return id;
  },
  unregisterCallback(id: number) {
    callbacks.delete(id);
  },
  async invoke(cmd: string, args?: Record<string, unknown>): Promise<unknown> {
    calls.push(cmd);
    if (cmd === 'plugin:event|listen') {
      const { event, handler } = args as { event: string; handler: number };
      listeners.set(event, (listeners.get(event) ?? new Set()).add(handler));
      return handler;
    }
    if (cmd === 'plugin:event|unlisten') {
      const { event, eventId } = args as { event: string; eventId: number };
      listeners.get(event)?.delete(eventId);
      return null;
    }
    if (cmd.startsWith('plugin:event|')) return null;
    const name = bindingName(cmd);
    if (!isAnswered(name)) throw `unknown command ${cmd}`;
    // The generated bindings invoke a command with `{ a, b, c }`, its parameters in their order, so
    // the values in that order are the binding's arguments.
    const answer = answers[name] as (...values: unknown[]) => unknown;
    return answer(...Object.values(args ?? {}));
  },
};
page.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener() {} };
