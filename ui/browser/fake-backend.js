// A fake Rust side for browser tests and the UI benchmark, injected before the app loads: it answers
// the app's commands like src-tauri would, from data computed on demand (so 100,000 messages and
// 50,000 conversations cost no memory until a page is asked for). Window options:
//   window.__FAKE__ = { conversations: N, messages: M }   (set by the page's init script)
(() => {
  const options = window.__FAKE__ ?? { conversations: 50000, messages: 100000 };
  const NOW = Date.now();
  const calls = [];
  window.__FAKE_CALLS__ = calls;

  const conversation = (i) => ({
    id: i,
    contact_name: i === 1 ? 'Ana Souza' : `Customer ${i}`,
    channel_kind: ['whatsapp', 'instagram', 'messenger'][i % 3],
    status: 'open',
    assignee_id: null,
    unread_count: i % 4,
    preview: i === 1 ? 'Is my order on its way?' : `Message from customer ${i}`,
    last_activity_at: NOW - i * 60000,
  });
  const message = (conversationId, i) => ({
    id: i,
    external_id: `wamid.${conversationId}.${i}`,
    direction: i % 3 === 0 ? 'outbound' : 'inbound',
    kind: 'text',
    body: i === 7 ? 'Where is my invoice for March?' : `Message number ${i} in this conversation`,
    caption: null,
    sent_at: NOW - (options.messages - i) * 60000,
    delivery_status: i % 3 === 0 ? 'read' : null,
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
    client_id: null,
  });
  const count = (id) => (id === 1 ? options.messages : 20);

  const commands = {
    cache_status: () => ({
      path: '/fake/cache.sqlite',
      schemaVersion: 4,
      latestMigration: 'contact profiles',
      writtenByNewerApp: false,
      counts: { channels: 3, contacts: options.conversations, conversations: options.conversations, messages: options.messages },
    }),
    desk_status: () => ({ mode: 'relay', sync: 'live', behind: 0, detail: null, member_id: 'm1', member_name: 'You', workspace_name: 'Fake Co.' }),
    conversations: ({ after, limit }) => {
      const start = after ? after.id + 1 : 1;
      const out = [];
      for (let i = start; i < start + limit && i <= options.conversations; i++) out.push(conversation(i));
      return out;
    },
    messages: ({ conversationId, before, after, limit }) => {
      const total = count(conversationId);
      const out = [];
      if (after) {
        for (let i = after.id + 1; i <= total && out.length < limit; i++) out.push(message(conversationId, i));
      } else {
        const top = before ? before.id - 1 : total;
        for (let i = top; i >= 1 && out.length < limit; i--) out.push(message(conversationId, i));
      }
      return out;
    },
    open_conversation: ({ conversationId }) => ({
      details: {
        id: conversationId,
        contact_name: conversation(conversationId).contact_name,
        channel_kind: 'whatsapp',
        customer_id: `US.${conversationId}`,
        phone: '15550001111',
        username: null,
        email: null,
        attributes: '{}',
        last_inbound_at: NOW - 60000,
        window_closes_at: NOW + 23 * 3600000,
        link: `zentro://conversation?channel=ch_1&contact=US.${conversationId}`,
      },
      state: { status: 'open', snoozed_until: null, assignee: null, labels: [] },
      notes: [],
      identities: [],
    }),
    search: ({ query }) =>
      query.toLowerCase().startsWith('invo') ? [{ conversation_id: 1, message_id: 7, snippet: 'Where is my [invoice] for March?', rank: 1 }] : [],
    media: () => null,
    send_reply: () => 'cm_fake',
    retry_reply: () => 'cm_fake',
    act_on_conversation: () => null,
    set_viewing: () => null,
    templates: () => [],
    members: () => [{ id: 'm1', email: 'you@fake.test', display_name: 'You', role: 'owner', status: 'active' }],
    canned_replies: () => [],
    remembered_sign_in: () => ({ relay_url: null, email: null, welcomed: true }),
  };

  const callbacks = new Map();
  let next = 1;
  window.__TAURI_INTERNALS__ = {
    transformCallback(callback, once = false) {
      const id = next++;
      callbacks.set(id, (data) => {
        if (once) callbacks.delete(id);
        return callback && callback(data);
      });
      return id;
    },
    unregisterCallback(id) {
      callbacks.delete(id);
    },
    async invoke(cmd, args) {
      calls.push(cmd);
      if (cmd.startsWith('plugin:event|')) return cmd === 'plugin:event|listen' ? args.handler : null;
      const answer = commands[cmd];
      if (!answer) throw `unknown command ${cmd}`;
      return answer(args ?? {});
    },
  };
  window.__TAURI_EVENT_PLUGIN_INTERNALS__ = { unregisterListener() {} };
})();
