import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import App from './App.svelte';
import type { AutomationSetup, MemberPresence, Permission } from './lib/ipc';
import { emptySetup } from './lib/stores/automation.svelte';
import { ANA, MEMBERS, NOW, cacheStatus, conversationView, deskStatus, message, teamView } from './lib/fixtures';

const STATUS = cacheStatus();
const DESK = deskStatus();

type Calls = { cmd: string; args: Record<string, unknown> }[];

/** A fake backend: answers each command like the Rust side would, and records the calls. */
function backend(overrides: Record<string, (args: Record<string, unknown>) => unknown> = {}): Calls {
  const calls: Calls = [];
  const answers: Record<string, (args: Record<string, unknown>) => unknown> = {
    cache_status: () => STATUS,
    desk_status: () => DESK,
    conversations: () => [],
    messages: () => [],
    open_conversation: () => conversationView(NOW + 3_600_000),
    search: () => [],
    media: () => null,
    send_reply: () => 'cm_1',
    act_on_conversation: () => null,
    retry_reply: () => 'cm_1',
    set_viewing: () => null,
    open_media: () => null,
    sign_in: () => ({ ...DESK, mode: 'starting', sync: 'connecting' }),
    templates: () => [],
    send_attachment: () => 'cm_a',
    members: () => [{ id: 'm1', email: 'you@acme.test', display_name: 'You Self', role: 'owner', status: 'active' }],
    send_template: () => 'cm_t',
    canned_replies: () => [],
    save_canned_reply: () => null,
    delete_canned_reply: () => null,
    campaigns_received: () => [],
    ...overrides,
  };
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    const answer = answers[cmd];
    if (!answer) return undefined; // event plugin calls
    return answer((args ?? {}) as Record<string, unknown>);
  });
  return calls;
}

/** Finds the button `testid` and checks that it is disabled with a title saying `why`. */
async function expectRefused(testid: string, why: string) {
  const button = (await screen.findByTestId(testid)) as HTMLButtonElement;
  expect(button.disabled).toBe(true);
  expect(button.title).toContain(why);
}

/** Renders the app and opens the Team page's Channels tab. */
async function openChannels() {
  render(App);
  await fireEvent.click(await screen.findByTestId('open-team'));
  await fireEvent.click(await screen.findByTestId('team-tab-channels'));
}

/** Waits until the button `testid` is enabled, then clicks it. */
async function clickWhenEnabled(testid: string) {
  const button = (await screen.findByTestId(testid)) as HTMLButtonElement;
  await waitFor(() => expect(button.disabled).toBe(false));
  await fireEvent.click(button);
}

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('App', () => {
  it('shows the three inbox regions', () => {
    backend();
    render(App);
    expect(screen.getByRole('navigation', { name: 'Conversations' })).toBeTruthy();
    expect(screen.getByRole('main', { name: 'Conversation' })).toBeTruthy();
    expect(screen.getByRole('complementary', { name: 'Contact' })).toBeTruthy();
  });

  it('marks the first inbox page painted once, when the list first shows conversations, whichever load brought them', async () => {
    // As at a connected start over a big cache: the first list load fails (the cache is busy
    // while the desk opens it), the next one (after the desk's first change notice) is empty, and
    // only the one after that has rows. The mark waits for the rows, and comes once.
    const answers: (() => unknown)[] = [
      () => {
        throw { code: 'cache_unavailable', message: 'database is locked' };
      },
      () => [],
      () => [ANA],
    ];
    const calls: Calls = [];
    mockIPC(
      (cmd, args) => {
        calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
        if (cmd === 'conversations') return (answers.shift() ?? (() => [ANA]))();
        if (cmd === 'desk_status') return DESK;
        if (cmd === 'cache_status') return STATUS;
        return undefined;
      },
      { shouldMockEvents: true },
    );
    performance.clearMarks('zentro:inbox-painted');
    const painted = () => calls.filter((c) => c.cmd === 'inbox_painted');
    render(App);
    await waitFor(() => expect(calls.filter((c) => c.cmd === 'conversations')).toHaveLength(1));
    await emit('inbox-changed');
    await waitFor(() => expect(calls.filter((c) => c.cmd === 'conversations')).toHaveLength(2));
    await new Promise((r) => setTimeout(r, 100));
    expect(painted()).toHaveLength(0);

    await emit('inbox-changed');
    await screen.findByText(ANA.contact_name);
    await waitFor(() => expect(painted()).toHaveLength(1));
    expect(painted()[0].args).toEqual({ rows: 1 });
    expect(performance.getEntriesByName('zentro:inbox-painted')).toHaveLength(1);

    await emit('inbox-changed');
    await waitFor(() => expect(calls.filter((c) => c.cmd === 'conversations')).toHaveLength(4));
    await new Promise((r) => setTimeout(r, 100));
    expect(painted()).toHaveLength(1);
  });

  it('shows the cache status returned by Rust in the status bar', async () => {
    backend();
    render(App);
    const status = await screen.findByTestId('cache-status');
    expect(status.textContent).toContain('schema v1');
    expect(status.textContent).toContain('0 conversations, 5 messages, 2 contacts');
    expect(screen.getByTestId('cache-path').textContent).toBe('/data/cache.sqlite');
    expect(await screen.findByTestId('conversation-list-empty')).toBeTruthy();
    expect((await screen.findByTestId('sync-status')).textContent).toContain('Up to date');
    expect(screen.getByTestId('sandbox-banner').textContent).toContain('nothing reaches Meta');
  });

  it('counts the cache again after changes at most once a window (1–10 s, by what a count costs), while the list follows each change', async () => {
    const calls: Calls = [];
    mockIPC(
      (cmd, args) => {
        calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
        if (cmd === 'conversations') return [ANA];
        if (cmd === 'desk_status') return DESK;
        if (cmd === 'cache_status') return STATUS;
        return undefined;
      },
      { shouldMockEvents: true },
    );
    render(App);
    await screen.findByTestId('cache-status');
    const counted = () => calls.filter((c) => c.cmd === 'cache_status').length;
    const listed = () => calls.filter((c) => c.cmd === 'conversations').length;
    await waitFor(() => expect(listed()).toBeGreaterThanOrEqual(1));
    const [countedBefore, listedBefore] = [counted(), listed()];
    for (let i = 0; i < 5; i++) {
      await emit('inbox-changed');
      await waitFor(() => expect(listed()).toBe(listedBefore + i + 1));
    }
    await new Promise((r) => setTimeout(r, 200));
    // The first change counts at once; the rest of the burst waits for the window's end.
    expect(counted()).toBe(countedBefore + 1);
  });

  it('offers to try again when the cache is unavailable, and recovers', async () => {
    let attempts = 0;
    backend({
      cache_status: () => {
        attempts += 1;
        if (attempts === 1) throw { code: 'cache_unavailable', message: 'the disk is full' };
        return STATUS;
      },
    });
    render(App);
    const alert = await screen.findByRole('alert');
    expect(alert.dataset.code).toBe('cache_unavailable');
    expect(alert.textContent).toContain('the disk is full');

    await fireEvent.click(screen.getByRole('button', { name: 'Try again' }));

    expect(await screen.findByTestId('cache-status')).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull();
    expect(attempts).toBe(2);
  });

  it('shows an internal error without a retry button', async () => {
    backend({
      cache_status: () => {
        throw { code: 'internal', message: 'query failed' };
      },
    });
    render(App);
    const alert = await screen.findByRole('alert');
    expect(alert.dataset.code).toBe('internal');
    expect(screen.queryByRole('button', { name: 'Try again' })).toBeNull();
  });

  it('lists conversations, opens one with its messages and ticks, and sends a reply', async () => {
    let thread = [message(1, 'inbound', 'Hi! My order #4821 still hasn’t arrived'), message(2, 'outbound', 'Checking now')];
    const calls = backend({
      conversations: () => [ANA],
      messages: () => [...thread].reverse(),
      send_reply: (args) => {
        thread = [...thread, message(3, 'outbound', String(args.text), { delivery_status: 'pending' })];
        return 'cm_3';
      },
    });
    render(App);
    expect((await screen.findByTestId('conversation-name')).textContent).toBe('Ana Souza');
    expect(screen.getByTestId('unread').textContent).toBe('2');

    await fireEvent.click(screen.getByText('Ana Souza'));
    expect((await screen.findByTestId('conversation-title')).textContent).toBe('Ana Souza');
    const bubbles = await screen.findAllByTestId('message');
    expect(bubbles.map((b) => b.dataset.externalId)).toEqual(['wamid.1', 'wamid.2']);
    expect(screen.getByTestId('delivery').dataset.status).toBe('read');
    expect(screen.getByTestId('window').textContent).toMatch(/closes in 59m|closes in 1h/);
    expect(screen.getByTestId('contact-panel').textContent).toContain('gold');

    const input = screen.getByTestId('composer-input') as HTMLTextAreaElement;
    await fireEvent.input(input, { target: { value: 'It ships today' } });
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(screen.getAllByTestId('message')).toHaveLength(3));
    expect(calls.find((c) => c.cmd === 'send_reply')?.args).toEqual({ conversationId: 7, text: 'It ships today', replyTo: null });
    await waitFor(() => expect(input.value).toBe(''));
  });

  it('says when the 24-hour window is closed and does not let a free-form reply through', async () => {
    backend({ conversations: () => [ANA], open_conversation: () => conversationView(NOW - 1000) });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    const window = await screen.findByTestId('window');
    await waitFor(() => expect(window.textContent).toContain('window closed'));
    expect((screen.getByTestId('composer-input') as HTMLTextAreaElement).disabled).toBe(true);
    expect((screen.getByTestId('send') as HTMLButtonElement).disabled).toBe(true);
  });

  it('assigns and resolves through team actions', async () => {
    const calls = backend({ conversations: () => [ANA] });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await fireEvent.click(await screen.findByTestId('assign-me'));
    await fireEvent.click(screen.getByTestId('resolve'));
    const actions = calls.filter((c) => c.cmd === 'act_on_conversation').map((c) => c.args.action);
    expect(actions).toEqual([
      { type: 'assign', assignee: 'm1' },
      { type: 'set_status', status: 'resolved', snooze_hours: null },
    ]);
  });

  it('searches from the palette with Ctrl+K and jumps to the hit', async () => {
    const calls = backend({
      conversations: () => [ANA],
      messages: () => [message(1, 'inbound', 'where is my invoice')],
      search: () => [{ conversation_id: 7, message_id: 1, snippet: 'where is my [invoice]', rank: 1 }],
    });
    render(App);
    await fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    const input = await screen.findByTestId('search-input');
    await fireEvent.input(input, { target: { value: 'invo' } });
    const hit = await screen.findByTestId('search-hit');
    expect(hit.querySelector('mark')?.textContent).toBe('invoice');
    await fireEvent.keyDown(input, { key: 'Enter' });
    expect((await screen.findByTestId('conversation-title')).textContent).toBe('Ana Souza');
    expect(screen.queryByTestId('search-palette')).toBeNull();
    expect(calls.find((c) => c.cmd === 'search')?.args).toEqual({ query: 'invo' });
  });

  it('lists the keyboard shortcuts on ?', async () => {
    backend();
    render(App);
    await fireEvent.keyDown(window, { key: '?' });
    expect((await screen.findByTestId('help')).textContent).toContain('Search all history');
  });

  it('shows one overlay at a time, and Escape closes the open one', async () => {
    backend();
    render(App);
    await fireEvent.keyDown(window, { key: '?' });
    await screen.findByTestId('help');
    await fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    await screen.findByTestId('search-palette');
    expect(screen.queryByTestId('help')).toBeNull();
    expect(screen.getAllByRole('dialog')).toHaveLength(1);
    await fireEvent.keyDown(window, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    await fireEvent.click(screen.getByTestId('open-canned'));
    await screen.findByTestId('canned-replies');
    await fireEvent.keyDown(window, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('canned-replies')).toBeNull());
  });

  it('keeps the first-run choice open on Escape', async () => {
    backend({ remembered_sign_in: () => ({ relay_url: null, email: null, welcomed: false }) });
    render(App);
    await screen.findByTestId('welcome');
    await fireEvent.keyDown(window, { key: 'Escape' });
    await fireEvent.keyDown(window, { key: 'k', ctrlKey: true });
    expect(screen.getByTestId('welcome')).toBeTruthy();
    expect(screen.queryByTestId('search-palette')).toBeNull();
  });

  it('shows why a reply failed and tries it again', async () => {
    const failed = message(5, 'outbound', 'On its way', {
      delivery_status: 'failed',
      error_message: 'this device has no token for the channel; reconnect the channel',
      client_id: 'cm_5',
    });
    const calls = backend({ conversations: () => [ANA], messages: () => [failed] });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    const delivery = await screen.findByTestId('delivery');
    expect(delivery.dataset.status).toBe('failed');
    expect(delivery.textContent).toContain('reconnect the channel');
    await fireEvent.click(screen.getByTestId('retry'));
    await waitFor(() => expect(calls.find((c) => c.cmd === 'retry_reply')?.args).toEqual({ clientId: 'cm_5' }));
  });

  it('inserts a canned reply typed as /shortcut', async () => {
    backend({
      conversations: () => [ANA],
      canned_replies: () => [
        { shortcut: 'refund', body: 'Refunds take 3–5 working days.' },
        { shortcut: 'hours', body: 'We open at 9.' },
      ],
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    const input = (await screen.findByTestId('composer-input')) as HTMLTextAreaElement;
    await fireEvent.input(input, { target: { value: '/re' } });
    const suggestions = await screen.findByTestId('canned-suggestions');
    expect(suggestions.textContent).toContain('/refund');
    expect(suggestions.textContent).not.toContain('/hours');
    await fireEvent.keyDown(input, { key: 'Enter' });
    await waitFor(() => expect(input.value).toBe('Refunds take 3–5 working days.'));
  });

  it('edits the contact in place and filters the list by label', async () => {
    const calls = backend({ conversations: () => [ANA] });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await fireEvent.click(await screen.findByTestId('contact-edit-open'));
    await fireEvent.input(screen.getByTestId('contact-edit-email'), { target: { value: 'ana@example.com' } });
    await fireEvent.submit(screen.getByTestId('contact-edit'));
    await waitFor(() =>
      expect(calls.filter((c) => c.cmd === 'act_on_conversation').map((c) => c.args.action)).toEqual([
        { type: 'edit_contact', display_name: null, email: 'ana@example.com', restricted: null },
      ]),
    );

    const filter = screen.getByTestId('filter-label') as HTMLInputElement;
    await fireEvent.change(filter, { target: { value: 'vip' } });
    await waitFor(() => expect(calls.filter((c) => c.cmd === 'conversations').at(-1)?.args.filter).toMatchObject({ label: 'vip' }));
  });

  it('offers approved templates when the window is closed and sends one with its variables', async () => {
    const template = { name: 'order_update', language: 'en_US', category: 'UTILITY', body: 'Hi {{1}}, order {{2}} shipped.', variables: 2 };
    const calls = backend({
      conversations: () => [ANA],
      open_conversation: () => conversationView(NOW - 1000),
      templates: () => [template],
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await fireEvent.click(await screen.findByTestId('choose-template'));
    await fireEvent.click(await screen.findByTestId('template-option'));
    const [first, second] = screen.getAllByTestId('template-variable') as HTMLInputElement[];
    await fireEvent.input(first, { target: { value: 'Ana' } });
    await fireEvent.input(second, { target: { value: '#4821' } });
    expect(screen.getByTestId('template-preview').textContent).toBe('Hi Ana, order #4821 shipped.');
    await fireEvent.click(screen.getByTestId('template-send'));
    await waitFor(() =>
      expect(calls.find((c) => c.cmd === 'send_template')?.args).toEqual({ conversationId: 7, template, variables: ['Ana', '#4821'] }),
    );
    await waitFor(() => expect(screen.queryByTestId('template-picker')).toBeNull());
  });

  it('sends an attached file with the typed text as its caption', async () => {
    const calls = backend({ conversations: () => [ANA] });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    const file = new File([new Uint8Array([37, 80, 68, 70])], 'receipt.pdf', { type: 'application/pdf' });
    await fireEvent.change(await screen.findByTestId('file-input'), { target: { files: [file] } });
    expect((await screen.findByTestId('attachment')).textContent).toContain('receipt.pdf');
    await fireEvent.input(screen.getByTestId('composer-input'), { target: { value: 'Your receipt' } });
    await fireEvent.click(screen.getByTestId('send'));
    await waitFor(() =>
      expect(calls.find((c) => c.cmd === 'send_attachment')?.args).toEqual({
        conversationId: 7,
        fileName: 'receipt.pdf',
        mime: 'application/pdf',
        dataBase64: 'JVBERg==',
        caption: 'Your receipt',
      }),
    );
    await waitFor(() => expect(screen.queryByTestId('attachment')).toBeNull());
  });

  it('sends a file to Instagram alone and the typed text after it as a reply', async () => {
    const calls = backend({
      conversations: () => [{ ...ANA, channel_kind: 'instagram' }],
      open_conversation: () => {
        const view = conversationView(NOW + 3_600_000);
        return { ...view, details: { ...view.details, channel_kind: 'instagram', files_carry_captions: false } };
      },
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    const file = new File([new Uint8Array([255, 216, 255])], 'label.jpg', { type: 'image/jpeg' });
    await fireEvent.change(await screen.findByTestId('file-input'), { target: { files: [file] } });
    expect((await screen.findByTestId('attachment')).textContent).toContain('follows it as a reply');
    await fireEvent.input(screen.getByTestId('composer-input'), { target: { value: 'Your label' } });
    await fireEvent.click(screen.getByTestId('send'));
    await waitFor(() => expect(calls.some((c) => c.cmd === 'send_reply')).toBe(true));
    const sent = calls.filter((c) => c.cmd === 'send_attachment' || c.cmd === 'send_reply');
    expect(sent.map((c) => c.cmd)).toEqual(['send_attachment', 'send_reply']);
    expect(sent[0].args.caption).toBe('');
    expect(sent[1].args.text).toBe('Your label');
  });

  it('inserts an emoji where the cursor is', async () => {
    backend({ conversations: () => [ANA] });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    const input = (await screen.findByTestId('composer-input')) as HTMLTextAreaElement;
    await fireEvent.input(input, { target: { value: 'Thanks!' } });
    input.setSelectionRange(6, 6);
    await fireEvent.click(screen.getByTestId('emoji-button'));
    await fireEvent.click(screen.getByText('🙏'));
    expect(input.value).toBe('Thanks🙏!');
    expect(screen.queryByTestId('emoji-picker')).toBeNull();
  });

  it('assigns to a teammate and mentions one in a note', async () => {
    const calls = backend({
      conversations: () => [ANA],
      members: () => [
        { id: 'm1', email: 'you@acme.test', display_name: 'You Self', role: 'owner', status: 'active' },
        { id: 'm2', email: 'bo@acme.test', display_name: 'Bo Lind', role: 'agent', status: 'active' },
        { id: 'm3', email: 'gone@acme.test', display_name: 'Gone', role: 'agent', status: 'deactivated' },
      ],
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    const select = (await screen.findByTestId('assign-select')) as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual(['Unassigned', 'You Self (you)', 'Bo Lind']);
    await fireEvent.change(select, { target: { value: 'm2' } });

    await fireEvent.click(screen.getByTestId('note-mode'));
    const input = screen.getByTestId('composer-input') as HTMLTextAreaElement;
    await fireEvent.input(input, { target: { value: 'Can you call her, @b' } });
    await fireEvent.click(await screen.findByText(/@bo — Bo Lind/));
    expect(input.value).toBe('Can you call her, @bo ');
    await fireEvent.click(screen.getByTestId('send'));
    await waitFor(() =>
      expect(calls.filter((c) => c.cmd === 'act_on_conversation').map((c) => c.args.action)).toEqual([
        { type: 'assign', assignee: 'm2' },
        { type: 'add_note', body: 'Can you call her, @bo', mentions: ['m2'] },
      ]),
    );
  });

  it("shows teammates' presence where they are assigned, and lets the member set themselves away", async () => {
    let mine = 'available';
    const calls = backend({
      conversations: () => [{ ...ANA, team_id: 'billing', sla: 'breached', first_response_due_at: NOW - 600_000 }],
      members: () => [
        { id: 'm1', email: 'you@acme.test', display_name: 'You Self', role: 'owner', status: 'active' },
        { id: 'm2', email: 'bo@acme.test', display_name: 'Bo Lind', role: 'agent', status: 'active' },
      ],
      automation_setup: (): AutomationSetup => ({
        version: 1,
        saved_at: NOW - 86_400_000,
        saved_by: 'm1',
        setup: {
          ...emptySetup(),
          teams: [{ id: 'billing', name: 'Billing', members: [], assignment: 'manual', hours: null, first_response_minutes: 10 }],
        },
      }),
      presence: (): MemberPresence[] => [
        { member_id: 'm1', status: mine, presence: mine, last_seen_at: NOW },
        { member_id: 'm2', status: 'available', presence: 'offline', last_seen_at: NOW - 3_600_000 },
      ],
      set_presence: (args) => (mine = args.status as string),
    });
    render(App);
    await waitFor(() => expect(screen.getByTestId('conversation-team').textContent).toBe('Billing'));
    expect(screen.getByTestId('conversation-sla').getAttribute('aria-label')).toBe('First response overdue by 10m');
    await fireEvent.click(await screen.findByText('Ana Souza'));
    const select = (await screen.findByTestId('assign-select')) as HTMLSelectElement;
    await waitFor(() => expect([...select.options].map((o) => o.textContent)).toEqual(['Unassigned', 'You Self (you)', 'Bo Lind — offline']));

    await fireEvent.change(await screen.findByTestId('presence-select'), { target: { value: 'away' } });
    await waitFor(() => expect(screen.getByTestId('presence').getAttribute('data-presence')).toBe('away'));
    expect(calls.find((c) => c.cmd === 'set_presence')?.args).toEqual({ status: 'away' });
  });

  it("opens a customer's document in the system's application", async () => {
    const doc = message(9, 'inbound', '', { kind: 'document', body: null, file_name: 'receipt.pdf', media_stored: true });
    const calls = backend({ conversations: () => [ANA], messages: () => [doc] });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await fireEvent.click(await screen.findByTestId('open-file'));
    await waitFor(() => expect(calls.find((c) => c.cmd === 'open_media')?.args).toEqual({ messageId: 9 }));
  });

  it("opens a link in a customer's message through the app's web-link command, and says when it could not", async () => {
    const text = message(9, 'inbound', 'Track it at https://parcel.example/track?id=42 please');
    let fail = false;
    const calls = backend({
      conversations: () => [ANA],
      messages: () => [text],
      open_web_link: () => {
        if (fail) throw { code: 'internal', message: 'No browser could open the link: xdg-open not found' };
        return null;
      },
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    const link = await screen.findByText('https://parcel.example/track?id=42');
    await fireEvent.click(link);
    await waitFor(() => expect(calls.find((c) => c.cmd === 'open_web_link')?.args).toEqual({ url: 'https://parcel.example/track?id=42' }));
    expect(screen.queryByTestId('link-problem')).toBeNull();
    fail = true;
    await fireEvent.click(link);
    expect((await screen.findByTestId('link-problem')).textContent).toContain('No browser could open the link');
  });

  it('warns instead of opening a program a customer sent, and offers to save it', async () => {
    const exe = message(9, 'inbound', '', { kind: 'document', body: null, file_name: 'setup.bin', media_stored: true });
    const calls = backend({
      conversations: () => [ANA],
      messages: () => [exe],
      open_media: () => {
        throw { code: 'not_openable', message: 'Zentro Desk will not open this file: it is a program.' };
      },
      save_media: () => '/home/ana/Downloads/setup.bin',
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await fireEvent.click(await screen.findByTestId('open-file'));
    const warning = await screen.findByTestId('file-refused');
    expect(warning.textContent).toContain('will not open this file');
    await fireEvent.click(screen.getByTestId('save-file'));
    expect((await screen.findByTestId('file-saved')).textContent).toContain('/home/ana/Downloads/setup.bin');
    expect(calls.find((c) => c.cmd === 'save_media')?.args).toEqual({ messageId: 9 });
    expect(screen.queryByTestId('file-refused')).toBeNull();
  });

  it('leaves the sandbox by signing in to a real relay', async () => {
    const calls = backend({
      sign_in: (args) => {
        if (args.password !== 'right') throw { code: 'invalid', message: 'Wrong email or password.' };
        return { ...DESK, mode: 'starting', sync: 'connecting' };
      },
    });
    render(App);
    await fireEvent.click(await screen.findByTestId('leave-sandbox'));
    await fireEvent.input(screen.getByTestId('sign-in-relay'), { target: { value: 'https://relay.acme.test' } });
    await fireEvent.input(screen.getByTestId('sign-in-email'), { target: { value: 'ana@acme.test' } });
    await fireEvent.input(screen.getByTestId('sign-in-password'), { target: { value: 'wrong' } });
    await fireEvent.submit(screen.getByTestId('sign-in'));
    expect((await screen.findByRole('alert')).textContent).toContain('Wrong email or password');
    await fireEvent.input(screen.getByTestId('sign-in-password'), { target: { value: 'right' } });
    await fireEvent.submit(screen.getByTestId('sign-in'));
    await waitFor(() => expect(screen.queryByTestId('sign-in')).toBeNull());
    expect(calls.filter((c) => c.cmd === 'sign_in').at(-1)?.args).toEqual({ relayUrl: 'https://relay.acme.test', email: 'ana@acme.test', password: 'right' });
  });

  it('snoozes for a chosen time', async () => {
    const calls = backend({ conversations: () => [ANA] });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await fireEvent.change(await screen.findByTestId('snooze'), { target: { value: '168' } });
    await waitFor(() =>
      expect(calls.find((c) => c.cmd === 'act_on_conversation')?.args.action).toEqual({ type: 'set_status', status: 'snoozed', snooze_hours: 168 }),
    );
  });

  it('first run offers the sandbox or a relay; an invitation link fills the join form', async () => {
    const calls = backend({
      remembered_sign_in: () => ({ relay_url: null, email: null, welcomed: false }),
      join_workspace: () => ({ ...DESK, mode: 'starting', sync: 'connecting' }),
    });
    render(App);
    await fireEvent.click(await screen.findByTestId('welcome-invited'));
    expect(screen.queryByTestId('welcome')).toBeNull();
    expect(calls.some((c) => c.cmd === 'finish_welcome')).toBe(true);
    await fireEvent.input(screen.getByTestId('sign-in-code'), {
      target: { value: 'zentro://invite?relay=https%3A%2F%2Frelay.acme.test&code=ABCD-EFGH-JKMN-PQRS-TUVW' },
    });
    expect((screen.getByTestId('sign-in-relay') as HTMLInputElement).value).toBe('https://relay.acme.test');
    expect((screen.getByTestId('sign-in-code') as HTMLInputElement).value).toBe('ABCD-EFGH-JKMN-PQRS-TUVW');
    expect(screen.queryByTestId('sign-in-email')).toBeNull();
    await fireEvent.input(screen.getByTestId('sign-in-password'), { target: { value: 'a long new password' } });
    await fireEvent.submit(screen.getByTestId('sign-in'));
    await waitFor(() => expect(screen.queryByTestId('sign-in')).toBeNull());
    expect(calls.find((c) => c.cmd === 'join_workspace')?.args).toEqual({
      relayUrl: 'https://relay.acme.test',
      code: 'ABCD-EFGH-JKMN-PQRS-TUVW',
      password: 'a long new password',
    });
  });

  it('does not ask again once the first-run choice was made, and sign-in remembers the relay', async () => {
    backend({ remembered_sign_in: () => ({ relay_url: 'https://relay.acme.test', email: 'ana@acme.test', welcomed: true }) });
    render(App);
    await fireEvent.click(await screen.findByTestId('leave-sandbox'));
    await waitFor(() => expect((screen.getByTestId('sign-in-relay') as HTMLInputElement).value).toBe('https://relay.acme.test'));
    expect((screen.getByTestId('sign-in-email') as HTMLInputElement).value).toBe('ana@acme.test');
    expect(screen.queryByTestId('welcome')).toBeNull();
  });

  it('shows an agent the team with admin actions disabled and why', async () => {
    backend({ team: () => teamView('agent', ['answer']) });
    render(App);
    await fireEvent.click(await screen.findByTestId('open-team'));
    expect((await screen.findByTestId('team-me')).textContent).toContain('(agent)');
    const roles = screen.getAllByTestId('member-role') as HTMLSelectElement[];
    expect(roles.every((r) => r.disabled)).toBe(true);
    expect(roles[0].title).toContain('Only admins and owners');
    expect(screen.queryByTestId('invite-form')).toBeNull();
    expect(screen.getByTestId('invite-disabled').textContent).toContain('invite teammates');
    expect((screen.getByTestId('team-tab-audit') as HTMLButtonElement).disabled).toBe(true);
  });

  it('lets an admin invite a teammate and shows the one-time code', async () => {
    const calls = backend({
      team: () => teamView('admin', ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data']),
      invite_member: (args) => ({
        member: { id: 'm3', email: args.email, display_name: 'Bo', role: args.role, status: 'invited', created_at: NOW, last_sign_in_at: null },
        code: 'WXYZ-2345-6789-ABCD-EFGH',
        link: 'zentro://invite?relay=x&code=WXYZ-2345-6789-ABCD-EFGH',
        expires_at: NOW + 72 * 3_600_000,
      }),
    });
    render(App);
    await fireEvent.click(await screen.findByTestId('open-team'));
    const role = (await screen.findByTestId('invite-role')) as HTMLSelectElement;
    expect([...role.options].map((o) => o.value)).toEqual(['agent', 'admin']);
    await fireEvent.input(screen.getByTestId('invite-email'), { target: { value: 'bo@acme.test' } });
    await fireEvent.change(role, { target: { value: 'admin' } });
    await fireEvent.submit(screen.getByTestId('invite-form'));
    expect((await screen.findByTestId('invitation-code')).textContent).toBe('WXYZ-2345-6789-ABCD-EFGH');
    expect(calls.find((c) => c.cmd === 'invite_member')?.args).toEqual({ email: 'bo@acme.test', displayName: '', role: 'admin' });
    // An admin may not change an owner.
    const owner = screen.getAllByTestId('member-role')[0] as HTMLSelectElement;
    expect(owner.disabled).toBe(true);
    expect(owner.title).toContain('Only an owner');
  });

  it('deactivates a member only after confirming, and shows the relay refusing the last owner', async () => {
    const calls = backend({
      team: () => teamView('owner', ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data', 'manage_workspace']),
      update_member: (args) => {
        if (args.memberId === 'm1') throw { code: 'invalid', message: 'a workspace keeps at least one active owner: make someone else owner first' };
        return { ...MEMBERS[1], status: 'deactivated' };
      },
    });
    render(App);
    await fireEvent.click(await screen.findByTestId('open-team'));
    const buttons = await screen.findAllByTestId('member-deactivate');
    await fireEvent.click(buttons[1]);
    expect(calls.some((c) => c.cmd === 'update_member')).toBe(false);
    expect((await screen.findByTestId('team-confirm')).textContent).toContain('ana@acme.test');
    await fireEvent.click(screen.getByTestId('team-confirm-yes'));
    await waitFor(() => expect(calls.find((c) => c.cmd === 'update_member')?.args).toEqual({ memberId: 'm2', change: { role: null, status: 'deactivated' } }));
    await fireEvent.click(screen.getAllByTestId('member-deactivate')[0]);
    await fireEvent.click(await screen.findByTestId('team-confirm-yes'));
    expect((await screen.findByTestId('team-problem')).textContent).toContain('at least one active owner');
  });

  it('cancels a confirmation in Team on Escape, and closes Team on the next', async () => {
    const calls = backend({
      team: () => teamView('owner', ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data', 'manage_workspace']),
    });
    render(App);
    await fireEvent.click(await screen.findByTestId('open-team'));
    await fireEvent.click((await screen.findAllByTestId('member-deactivate'))[1]);
    await screen.findByTestId('team-confirm');
    await fireEvent.keyDown(window, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('team-confirm')).toBeNull());
    expect(screen.getByTestId('team')).toBeTruthy();
    await fireEvent.keyDown(window, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('team')).toBeNull());
    expect(calls.some((c) => c.cmd === 'update_member')).toBe(false);
  });

  it('tells an admin to rotate the token a member who lost the channel still holds', async () => {
    backend({
      team: () => teamView('admin', ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data']),
      channels: () => [
        { id: 'c1', kind: 'whatsapp', external_id: '1065', display_name: 'Support', token_version: 2, agents: ['m2'], allowed: true,
          rotation_advised: [{ member_id: 'm9', email: 'bob@acme.test' }] },
        { id: 'c2', kind: 'whatsapp', external_id: '1066', display_name: 'Sales', token_version: 1, agents: [], allowed: true },
      ],
    });
    await openChannels();
    const advised = await screen.findAllByTestId('channel-rotation-advised');
    expect(advised).toHaveLength(1);
    expect(advised[0].textContent).toContain('bob@acme.test');
    expect(advised[0].textContent).toContain('Rotate');
  });

  it('lets an admin restrict a channel to chosen agents', async () => {
    const calls = backend({
      team: () => teamView('admin', ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data']),
      channels: () => [
        { id: 'c1', kind: 'whatsapp', external_id: '1065', display_name: 'Support', token_version: 2, agents: [], allowed: true },
      ],
      set_channel_access: () => null,
    });
    await openChannels();
    expect((await screen.findByTestId('channel-access')).textContent).toBe('everyone');
    expect(screen.getByTestId('channel-token-state').textContent).toBe('stored (v2)');
    await fireEvent.click(screen.getByTestId('channel-edit-access'));
    const form = await screen.findByTestId('channel-access-form');
    const box = form.querySelector('input[type=checkbox]') as HTMLInputElement;
    expect(box.parentElement?.textContent).toContain('ana@acme.test');
    await fireEvent.click(box);
    await fireEvent.click(screen.getByTestId('channel-access-save'));
    await waitFor(() => expect(calls.find((c) => c.cmd === 'set_channel_access')?.args).toEqual({ channelId: 'c1', agents: ['m2'] }));
  });

  it('connects WhatsApp only for owners and says how the signup ended', async () => {
    const OWNER: Permission[] = ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data', 'manage_workspace', 'connect_channels'];
    let connected = false;
    const channel = { id: 'c9', kind: 'whatsapp', external_id: '2001', display_name: 'WhatsApp Sandbox Coffee Co.', token_version: 1, agents: [], allowed: true,
      health: 'connected', health_reason: null, phone_number: '+1 555 0101', quality_rating: 'GREEN' };
    const calls = backend({
      team: () => teamView('owner', OWNER),
      channels: () => (connected ? [channel] : []),
      connect_channels: () => {
        connected = true;
        return { state: 'connected', message: 'Connected WhatsApp Sandbox Coffee Co. (+1 555 0101).', channel_id: 'c9' };
      },
    });
    await openChannels();
    await clickWhenEnabled('connect-whatsapp');
    expect((await screen.findByTestId('team-notice')).textContent).toContain('Connected WhatsApp Sandbox Coffee Co.');
    expect(calls.filter((c) => c.cmd === 'connect_channels').map((c) => c.args)).toEqual([{ kind: 'whatsapp' }]);
    expect((await screen.findByTestId('channel-health')).textContent).toContain('Connected');
    expect(screen.getByTestId('team-channel').textContent).toContain('quality green');
    expect(screen.queryByTestId('channel-reconnect')).toBeNull();
  });

  it('shows a cancelled signup as a problem, and an admin cannot start one', async () => {
    backend({
      team: () => teamView('owner', ['answer', 'manage_channels', 'manage_workspace', 'connect_channels']),
      channels: () => [],
      connect_channels: () => ({ state: 'cancelled', message: 'The signup was cancelled at Meta\'s step PHONE_NUMBER_SETUP; nothing was connected.', channel_id: null }),
    });
    await openChannels();
    await clickWhenEnabled('connect-whatsapp');
    expect((await screen.findByTestId('team-problem')).textContent).toContain('PHONE_NUMBER_SETUP');
    cleanup();
    backend({ team: () => teamView('admin', ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data']), channels: () => [] });
    await openChannels();
    await expectRefused('connect-whatsapp', 'Only owners');
  });

  it('shows a disconnected channel with its reason, offers Reconnect, and disconnects only after confirming', async () => {
    const calls = backend({
      team: () => teamView('owner', ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data', 'manage_workspace', 'connect_channels']),
      channels: () => [
        { id: 'c1', kind: 'whatsapp', external_id: '1065', display_name: 'Support', token_version: null, agents: [], allowed: true,
          health: 'disconnected', health_reason: 'Meta no longer accepts this channel\'s access. An owner must reconnect it.', phone_number: '+1 555 0100', quality_rating: 'GREEN' },
        { id: 'c2', kind: 'messenger', external_id: '3001', display_name: 'Page', token_version: 3, agents: [], allowed: true,
          health: 'attention', health_reason: 'Meta stopped sending this channel\'s messages.', phone_number: null, quality_rating: null },
      ],
      disconnect_channel: () => ({}),
      connect_channels: () => ({ state: 'connected', message: 'Connected Page.', channel_id: 'c2' }),
      check_channel: () => ({ id: 'c2', kind: 'messenger', external_id: '3001', display_name: 'Page', token_version: 3, agents: [], allowed: true,
        health: 'connected', health_reason: null, phone_number: null, quality_rating: null }),
    });
    await openChannels();
    const health = await screen.findAllByTestId('channel-health');
    expect(health[0].textContent).toContain('Disconnected');
    expect(health[0].textContent).toContain('reconnect it');
    expect(health[1].textContent).toContain('Needs attention');
    // Both need an owner to run Meta's signup again: Embedded Signup, or the Pages login.
    expect(screen.getAllByTestId('channel-reconnect')).toHaveLength(2);
    await fireEvent.click(screen.getAllByTestId('channel-reconnect')[1]);
    await waitFor(() => expect(calls.find((c) => c.cmd === 'connect_channels')?.args).toEqual({ kind: 'pages' }));
    // Only the channel with a token can be disconnected.
    await fireEvent.click(screen.getByTestId('channel-disconnect'));
    expect(calls.some((c) => c.cmd === 'disconnect_channel')).toBe(false);
    expect((await screen.findByTestId('team-confirm')).textContent).toContain('every device deletes its token');
    await fireEvent.click(screen.getByTestId('team-confirm-yes'));
    await waitFor(() => expect(calls.find((c) => c.cmd === 'disconnect_channel')?.args).toEqual({ channelId: 'c2' }));
    await fireEvent.click(screen.getAllByTestId('channel-check')[1]);
    await waitFor(() => expect(screen.getByTestId('team-notice').textContent).toContain('Page: Connected'));
  });

  it('warns above the inbox when a channel is disconnected and opens the Channels tab from there', async () => {
    backend({
      desk_status: () => ({ ...DESK, mode: 'relay' }),
      team: () => teamView('agent', ['answer']),
      channels: () => [
        { id: 'c1', kind: 'whatsapp', external_id: '1065', display_name: 'Support line', token_version: null, agents: [], allowed: true,
          health: 'disconnected', health_reason: 'Meta no longer accepts this channel\'s access. An owner must reconnect it.', phone_number: '+1 555 0100', quality_rating: null },
        { id: 'c2', kind: 'messenger', external_id: '3001', display_name: 'Page', token_version: 1, agents: [], allowed: true,
          health: 'connected', health_reason: null, phone_number: null, quality_rating: null },
        { id: 'c3', kind: 'instagram', external_id: '4001', display_name: '@other', token_version: 1, agents: ['m9'], allowed: false,
          health: 'disconnected', health_reason: 'not mine', phone_number: null, quality_rating: null },
      ],
    });
    render(App);
    const banner = await screen.findByTestId('channel-problem');
    expect(banner.textContent).toContain('Support line');
    expect(banner.textContent).toContain('is disconnected');
    expect(banner.textContent).toContain('reconnect it');
    // Only channels this member uses, and only those with a problem.
    expect(screen.getAllByTestId('channel-problem')).toHaveLength(1);
    await fireEvent.click(screen.getByTestId('channel-problem-open'));
    expect((await screen.findByTestId('team-tab-channels')).getAttribute('aria-selected')).toBe('true');
    expect((await screen.findAllByTestId('team-channel')).length).toBe(3);
  });

  it('shows the version and the logs folder, and opens it', async () => {
    const calls = backend({
      about: () => ({ version: '0.1.0', data_folder: '/home/ana/.local/share/zentro', logs_folder: '/home/ana/.local/share/zentro/logs' }),
      open_logs_folder: () => null,
    });
    render(App);
    await fireEvent.click(await screen.findByTestId('open-about'));
    expect((await screen.findByTestId('about-version')).textContent).toBe('0.1.0');
    expect(screen.getByTestId('about').textContent).toContain('never hold message text or secrets');
    expect(screen.getByTestId('about-logs').textContent).toBe('/home/ana/.local/share/zentro/logs');
    await fireEvent.click(screen.getByTestId('open-logs'));
    await waitFor(() => expect(calls.some((c) => c.cmd === 'open_logs_folder')).toBe(true));
    await fireEvent.keyDown(window, { key: 'Escape' });
    await waitFor(() => expect(screen.queryByTestId('about')).toBeNull());
  });

  it('offers an update in About, installs it, and explains a refused one', async () => {
    const status = (state: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      current_version: '0.1.0',
      endpoint: 'https://updates.zentro.app/desk/{{target}}/{{arch}}/{{current_version}}',
      custom_endpoint: false,
      last_check: null,
      state,
      problem: null,
      cannot_install: null,
      ...extra,
    });
    let install = () => status({ state: 'installed', version: '0.2.0' });
    const calls = backend({
      about: () => ({ version: '0.1.0', data_folder: '/d', logs_folder: '/d/logs', start_minimized: false }),
      update_status: () => status({ state: 'unknown' }),
      check_for_update: () =>
        status({ state: 'available', version: '0.2.0', notes: 'Faster search' }, { last_check: 1_796_000_000 }),
      install_update: () => install(),
      set_update_endpoint: (args) => {
        if (String(args.endpoint).startsWith('http:')) {
          throw { code: 'invalid', message: 'The update server must use https://' };
        }
        return status({ state: 'unknown' }, { endpoint: args.endpoint, custom_endpoint: true });
      },
      set_start_minimized: (args) => ({ version: '0.1.0', data_folder: '/d', logs_folder: '/d/logs', start_minimized: args.on }),
    });
    render(App);
    await fireEvent.click(await screen.findByTestId('open-about'));
    expect((await screen.findByTestId('update-state')).textContent).toContain('Not checked');
    expect(screen.getByTestId('update-last-check').textContent).toBe('never');
    expect(screen.queryByTestId('install-update')).toBeNull();

    await fireEvent.click(screen.getByTestId('check-updates'));
    await waitFor(() => expect(screen.getByTestId('update-state').textContent).toContain('Version 0.2.0 is available'));
    expect(screen.getByTestId('update-notes').textContent).toBe('Faster search');
    expect(screen.getByTestId('update-last-check').textContent).not.toBe('never');

    // A refused download: the reason shows and the update stays on offer.
    const reason = 'The downloaded update does not carry a valid Zentro Desk signature, so it was not installed';
    install = () => {
      throw { code: 'internal', message: reason };
    };
    await fireEvent.click(screen.getByTestId('install-update'));
    await waitFor(() => expect(screen.getByTestId('about-problem').textContent).toContain('valid Zentro Desk signature'));
    expect(screen.getByTestId('install-update')).toBeTruthy();

    install = () => status({ state: 'installed', version: '0.2.0' });
    await fireEvent.click(screen.getByTestId('install-update'));
    await waitFor(() => expect(screen.getByTestId('update-state').textContent).toContain('0.2.0 is installed'));
    expect(calls.filter((c) => c.cmd === 'install_update')).toHaveLength(2);

    // The update server: plain http is refused with the reason; https is kept for this computer.
    await fireEvent.click(screen.getByText('Change update server…'));
    const input = screen.getByTestId('update-server-input') as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'http://updates.acme.test/latest.json' } });
    await fireEvent.click(screen.getByText('Save'));
    expect((await screen.findByRole('alert')).textContent).toContain('https://');
    await fireEvent.input(input, { target: { value: 'https://updates.acme.test/latest.json' } });
    await fireEvent.click(screen.getByText('Save'));
    await waitFor(() => expect(screen.getByTestId('update-server').textContent).toBe('https://updates.acme.test/latest.json'));
    expect(screen.getByTestId('updates').textContent).toContain('chosen for this computer');

    await fireEvent.click(screen.getByTestId('start-minimized'));
    await waitFor(() => expect(calls.some((c) => c.cmd === 'set_start_minimized' && c.args.on === true)).toBe(true));
    expect((screen.getByTestId('start-minimized') as HTMLInputElement).checked).toBe(true);
  });

  it('follows zentro:// links: a conversation opens, an invitation fills Join, anything else says why', async () => {
    let link: unknown = { kind: 'conversation', conversation_id: 7 };
    const calls = backend({
      conversations: () => [ANA],
      take_link: () => {
        const taken = link;
        link = null;
        return taken;
      },
    });
    render(App);
    expect((await screen.findByTestId('conversation-title')).textContent).toBe('Ana Souza');
    expect(calls.some((c) => c.cmd === 'open_conversation' && c.args.conversationId === 7)).toBe(true);
    cleanup();

    link = { kind: 'invitation', relay: 'https://relay.acme.test', code: 'WXYZ-2345' };
    backend({ take_link: () => link });
    render(App);
    expect((await screen.findByTestId('sign-in-code') as HTMLInputElement).value).toBe('WXYZ-2345');
    expect((screen.getByTestId('sign-in-relay') as HTMLInputElement).value).toBe('https://relay.acme.test');
    cleanup();

    backend({ take_link: () => ({ kind: 'refused', reason: 'That conversation is not on this computer' }) });
    render(App);
    expect((await screen.findByTestId('notice')).textContent).toContain('not on this computer');
  });

  it('links the same customer on another channel and lists their identities', async () => {
    const instagram = {
      conversation_id: 9,
      channel_kind: 'instagram',
      channel_name: '@coffee',
      name: 'ana.souza',
      customer_id: 'IGSID1',
      phone: null,
      username: 'ana.souza',
    };
    let linked = false;
    const calls = backend({
      conversations: () => [ANA],
      open_conversation: () => ({ ...conversationView(NOW + 3_600_000), identities: linked ? [instagram] : [] }),
      link_candidates: (args) => (String(args.query).startsWith('ana') ? [instagram] : []),
      act_on_conversation: (args) => {
        const action = args.action as { type: string };
        if (action.type === 'link_contact') linked = true;
        if (action.type === 'unlink_contact') linked = false;
        return null;
      },
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await fireEvent.click(await screen.findByTestId('link-open'));
    await fireEvent.input(screen.getByTestId('link-query'), { target: { value: 'ana' } });
    await fireEvent.click(await screen.findByTestId('link-candidate'));
    await waitFor(() =>
      expect(calls.some((c) => c.cmd === 'act_on_conversation' && (c.args.action as { other_conversation_id?: number }).other_conversation_id === 9)).toBe(true),
    );
    // The change comes back through the relay like every team event; the panel reads it again.
    await fireEvent.click(screen.getByTestId('conversation-row').querySelector('button')!);
    const identity = await screen.findByTestId('identity');
    expect(identity.textContent).toContain('Instagram');
    expect(identity.textContent).toContain('@ana.souza');
    await fireEvent.click(screen.getByTestId('unlink-self'));
    await waitFor(() =>
      expect(calls.some((c) => c.cmd === 'act_on_conversation' && (c.args.action as { type: string }).type === 'unlink_contact')).toBe(true),
    );
  });

  it('lets only the owner terminate the workspace, after typing its name', async () => {
    const calls = backend({
      team: () => teamView('owner', ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data', 'manage_workspace']),
      terminate_workspace: () => null,
    });
    render(App);
    await fireEvent.click(await screen.findByTestId('open-team'));
    await fireEvent.click(await screen.findByTestId('team-tab-workspace'));
    const submit = (await screen.findByTestId('terminate-submit')) as HTMLButtonElement;
    expect(submit.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId('terminate-confirm'), { target: { value: 'Acme' } });
    expect(submit.disabled).toBe(false);
    await fireEvent.submit(screen.getByTestId('workspace-terminate'));
    await waitFor(() => expect(calls.find((c) => c.cmd === 'terminate_workspace')?.args).toEqual({ confirm: 'Acme' }));
  });

  it('shows no workspace settings to an admin', async () => {
    backend({ team: () => teamView('admin', ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data']) });
    render(App);
    await fireEvent.click(await screen.findByTestId('open-team'));
    await screen.findByTestId('team-members');
    expect(screen.queryByTestId('team-tab-workspace')).toBeNull();
  });

  it('erases a customer everywhere after a confirmation that names what goes (admins only)', async () => {
    const calls = backend({
      desk_status: () => ({ ...DESK, member_role: 'admin' }),
      conversations: () => [ANA],
      erasure_preview: () => ({ contact_id: 3, name: 'Ana Souza', channel_kind: 'whatsapp', identity: '5511987654321', conversations: 2, messages: 37, notes: 1, media_files: 4 }),
      erase_contact: () => ({ hash: 'ab'.repeat(32), conversations: 2, messages: 37, media_files: 4, relay_events_purged: 40 }),
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await clickWhenEnabled('erase-open');
    const confirm = await screen.findByTestId('erase-confirm');
    expect(confirm.textContent).toContain('2 conversation(s), 37 message(s), 1 note(s), 4 media file(s)');
    expect(calls.some((c) => c.cmd === 'erase_contact')).toBe(false);
    await fireEvent.click(screen.getByTestId('erase-confirm-yes'));
    expect((await screen.findByTestId('notice')).textContent).toContain('Ana Souza was erased');
    expect(calls.find((c) => c.cmd === 'erase_contact')?.args).toEqual({ contactId: 3 });
    expect(calls.find((c) => c.cmd === 'erasure_preview')?.args).toEqual({ conversationId: 7 });
  });

  it('does not let an agent erase a customer, and says why', async () => {
    backend({ desk_status: () => ({ ...DESK, member_role: 'agent' }), conversations: () => [ANA] });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await expectRefused('erase-open', 'Only admins and owners');
  });

  it("exports a customer's data and says where the archive is (admins only)", async () => {
    const calls = backend({
      desk_status: () => ({ ...DESK, member_role: 'owner' }),
      conversations: () => [ANA],
      export_contact: () => ({ path: '/home/ana/Downloads/zentro-export-contact-3-2026-11-22.zip', contacts: 1, messages: 37, media_files: 4, bytes: 52_000 }),
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await clickWhenEnabled('export-start');
    const done = await screen.findByTestId('export-done');
    expect(done.textContent).toContain('37 messages and 4 files');
    expect(done.textContent).toContain('zentro-export-contact-3-2026-11-22.zip');
    expect(calls.find((c) => c.cmd === 'export_contact')?.args.conversationId).toBe(7);
  });

  it('shows why an export was refused', async () => {
    backend({
      desk_status: () => ({ ...DESK, member_role: 'admin' }),
      conversations: () => [ANA],
      export_contact: () => {
        throw { code: 'offline', message: 'the relay could not be reached. Exports are recorded in the audit log first; nothing was exported.' };
      },
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    await clickWhenEnabled('export-start');
    expect((await screen.findByTestId('export-problem')).textContent).toContain('nothing was exported');
  });

  it('shows a restricted customer with a badge and lets an admin lift it', async () => {
    const view = conversationView(NOW + 3_600_000);
    const calls = backend({
      desk_status: () => ({ ...DESK, member_role: 'admin' }),
      conversations: () => [ANA],
      open_conversation: () => ({ ...view, details: { ...view.details, restricted: true } }),
    });
    render(App);
    await fireEvent.click(await screen.findByText('Ana Souza'));
    expect((await screen.findByTestId('restricted-badge')).title).toContain('no automation');
    const toggle = screen.getByTestId('restrict-toggle') as HTMLButtonElement;
    expect(toggle.textContent).toBe('Lift the restriction');
    await fireEvent.click(toggle);
    await waitFor(() =>
      expect(calls.find((c) => c.cmd === 'act_on_conversation')?.args.action).toEqual({ type: 'edit_contact', display_name: null, email: null, restricted: false }),
    );
  });

  it('lets an admin set retention periods (empty keeps)', async () => {
    const calls = backend({
      team: () => teamView('admin', ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data']),
      retention: () => ({ conversation_days: null, media_days: 30 }),
      set_retention: (args) => args.retention,
    });
    render(App);
    await fireEvent.click(await screen.findByTestId('open-team'));
    await fireEvent.click(await screen.findByTestId('team-tab-data'));
    const media = (await screen.findByTestId('retention-media')) as HTMLInputElement;
    await waitFor(() => expect(media.value).toBe('30'));
    await fireEvent.input(screen.getByTestId('retention-conversations'), { target: { value: '90' } });
    await fireEvent.submit(screen.getByTestId('retention-form'));
    await waitFor(() =>
      expect(calls.find((c) => c.cmd === 'set_retention')?.args).toEqual({ retention: { conversation_days: 90, media_days: 30 } }),
    );
  });
});
