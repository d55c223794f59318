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
import {
  NOW,
  cacheStatus,
  conversationSummary,
  conversationView,
  conversationsPage,
  deskStatus,
  message as messageFixture,
  messagesPage,
  teammate,
} from '../src/lib/fixtures';

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
  __TAURI_INTERNALS__: unknown;
  __TAURI_EVENT_PLUGIN_INTERNALS__: unknown;
};

const page = window as unknown as Page;
const options: Options = page.__FAKE__ ?? { conversations: 50000, messages: 100000 };
const calls: string[] = [];
page.__FAKE_CALLS__ = calls;

/** Conversation 1 is Ana Souza's, the one with `options.messages` messages. */
const conversation = (i: number) =>
  conversationSummary(i, i === 1 ? { contact_name: 'Ana Souza', preview: 'Is my order on its way?' } : {});
const message = (conversationId: number, i: number) =>
  messageFixture(i, i % 3 === 0 ? 'outbound' : 'inbound', i === 7 ? 'Where is my invoice for March?' : `Message number ${i} in this conversation`, {
    external_id: `wamid.${conversationId}.${i}`,
    sent_at: NOW - (options.messages - i) * 60000,
  });
const count = (id: number) => (id === 1 ? options.messages : 20);

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
  conversations: (_filter, after, limit): Out<'conversations'> => conversationsPage(options.conversations, after, limit, conversation),
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
  setViewing: () => null, // Rust's `()` arrives as null (the binding says void)
  templates: (): Out<'templates'> => [],
  members: (): Out<'members'> => [teammate('m1', 'you@fake.test', 'You', 'owner')],
  cannedReplies: (): Out<'cannedReplies'> => [],
  rememberedSignIn: (): Out<'rememberedSignIn'> => ({ relay_url: null, email: null, welcomed: true }),
} satisfies Answers;

/** `open_conversation` → `openConversation`: the binding's name for the command `invoke` receives. */
const bindingName = (cmd: string) => cmd.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const isAnswered = (name: string): name is keyof typeof answers => Object.hasOwn(answers, name);

const callbacks = new Map<number, (data: unknown) => unknown>();
let next = 1;
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
    if (cmd.startsWith('plugin:event|')) return cmd === 'plugin:event|listen' ? args?.handler : null;
    const name = bindingName(cmd);
    if (!isAnswered(name)) throw `unknown command ${cmd}`;
    // The generated bindings invoke a command with `{ a, b, c }`, its parameters in their order, so
    // the values in that order are the binding's arguments.
    const answer = answers[name] as (...values: unknown[]) => unknown;
    return answer(...Object.values(args ?? {}));
  },
};
page.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener() {} };
