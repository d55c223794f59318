import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import type { AutomationPreview, AutomationSetup, Setup } from '../ipc';
import { AutomationState, CONFLICT, emptySetup, officeHours, starterCsat, starterMenu, validateSetup } from './automation.svelte';

type Calls = { cmd: string; args: Record<string, unknown> }[];

/** A saved setup: one Support team with Ana (m2), round robin, hours in Lisbon. */
function saved(version = 3): AutomationSetup {
  const setup: Setup = {
    ...emptySetup(),
    enabled: true,
    hours: officeHours('Europe/Lisbon'),
    teams: [{ id: 'support', name: 'Support', members: ['m2'], assignment: 'round_robin', hours: null, first_response_minutes: 30 }],
  };
  return { version, setup, saved_at: 1, saved_by: 'm1' };
}

/** The desk as the Automation tab sees it; `save` answers a save. */
function desk(save: (args: Record<string, unknown>) => unknown = () => 4): Calls {
  const calls: Calls = [];
  mockIPC((cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    if (cmd === 'automation_setup') return saved();
    if (cmd === 'save_automation_setup') return save(args);
    if (cmd === 'preview_automation') {
      const nothing: AutomationPreview = { since: 0, conversations_replayed: 2, conversations: [], messages_sent: 0, routed: 0, assigned: 0 };
      return nothing;
    }
    return null;
  });
  return calls;
}

const MEMBERS = new Set(['m1', 'm2']);
const paths = (setup: Setup) => validateSetup(setup, MEMBERS).map((p) => p.path);

afterEach(() => clearMocks());

describe('validating a setup as the relay would', () => {
  it('accepts the saved setup and a full one', () => {
    expect(paths(saved().setup)).toEqual([]);
    const full: Setup = {
      ...saved().setup,
      capacities: { m2: 5 },
      channel_teams: { 'whatsapp:1065': 'support' },
      greeting: { text: 'Hi!', by_language: { pt: 'Olá!' } },
      away: { text: 'We are closed.', by_channel: { instagram: 'Closed now' } },
      menu: starterMenu('support'),
      hand_back_after_minutes: 15,
    };
    expect(paths(full)).toEqual([]);
  });

  it('names each field the relay would refuse', () => {
    const setup = saved().setup;
    setup.hours!.time_zone = 'Mars/Olympus';
    setup.hours!.weekly[0] = [{ start: '18:00', end: '09:00' }];
    setup.hours!.weekly[1] = [{ start: '09:00', end: '24:00' }];
    setup.hours!.weekly[2] = [{ start: '12:00', end: '14:00' }, { start: '09:00', end: '09:00' }, { start: '9:00', end: '10:00' }];
    setup.hours!.holidays = ['2026-02-30'];
    setup.teams[0].name = ' ';
    setup.teams[0].members = ['m2', 'm9'];
    setup.teams[0].first_response_minutes = 0;
    setup.teams.push({ ...setup.teams[0], name: 'Again', members: [] , first_response_minutes: null });
    setup.capacities = { m7: 2 };
    setup.channel_teams = { 'whatsapp:1': 'nobody' };
    setup.greeting = { text: 'x'.repeat(1001) };
    setup.away = { text: 'Closed', by_channel: { sms: 'Closed' } };
    setup.menu = { ...starterMenu('support'), button: '' };
    setup.menu.options.push({ id: 'option-2', title: 'A title far too long for Meta', team: 'ghost' });
    setup.agent_keywords = ['agent', ''];
    setup.hand_back_after_minutes = 0;
    expect(paths(setup)).toEqual([
      'teams.0.name',
      'teams.0.members',
      'teams.0.first_response_minutes',
      'teams.1.id',
      'capacities.m7',
      'channel_teams.whatsapp:1',
      'hours.time_zone',
      'hours.weekly.0.0',
      'hours.weekly.2.1',
      'hours.weekly.2.2',
      'hours.holidays.0',
      'greeting.text',
      'away.by_channel.sms',
      'menu.options.1.title',
      'menu.options.1.team',
      'menu.button',
      'agent_keywords',
      'hand_back_after_minutes',
    ]);
  });

  it('checks the satisfaction survey as the relay does', () => {
    const setup = { ...saved().setup, csat: starterCsat() };
    expect(paths(setup)).toEqual([]);
    setup.csat.question = { text: ' ' };
    setup.csat.thanks = { text: 'Thanks', by_channel: { sms: 'Thanks' } };
    setup.csat.button = 'A button label far too long';
    expect(paths(setup)).toEqual(['csat.question.text', 'csat.thanks.by_channel.sms', 'csat.button']);
  });

  it('counts the menu and option titles in characters and texts in bytes, as Meta does', () => {
    const setup = { ...saved().setup, menu: starterMenu('support') };
    setup.menu.options[0].title = 'é'.repeat(20); // 20 characters, 40 bytes: fits
    expect(paths(setup)).toEqual([]);
    setup.menu.options = [];
    expect(paths(setup)).toEqual(['menu.options']);
    setup.greeting = { text: 'é'.repeat(501) }; // 1,002 bytes
    expect(paths(setup)).toContain('greeting.text');
  });
});

describe('the Automation tab', () => {
  it('loads the setup, follows whether the draft changed, and reverts', async () => {
    desk();
    const automation = new AutomationState(() => ['m1', 'm2']);
    await automation.load();
    expect(automation.loading).toBe(false);
    expect(automation.saved?.version).toBe(3);
    expect(automation.dirty).toBe(false);
    automation.draft.hours!.weekly[5].push({ start: '10:00', end: '13:00' });
    expect(automation.dirty).toBe(true);
    automation.revert();
    expect(automation.dirty).toBe(false);
    // An empty per-language map is the same setup as none.
    automation.draft.teams[0].hours = null;
    automation.draft.greeting = null;
    expect(automation.dirty).toBe(false);
    automation.addTeam();
    expect(automation.draft.teams[1].id).toBe('team-1');
    expect(automation.problemAt('teams.1.name')).toMatch(/name/);
    expect(automation.dirty).toBe(true);
  });

  it('saves over the version it loaded, and is clean afterwards', async () => {
    const calls = desk();
    const automation = new AutomationState(() => ['m1', 'm2']);
    await automation.load();
    automation.setMenu(true);
    expect(await automation.save()).toBe(true);
    const save = calls.find((c) => c.cmd === 'save_automation_setup');
    expect(save?.args.expectedVersion).toBe(3);
    expect((save?.args.setup as Setup).menu?.options[0].team).toBe('support');
    expect(automation.saved?.version).toBe(4);
    expect(automation.dirty).toBe(false);
    expect(automation.notice).toMatch(/Saved/);
  });

  it('does not send a setup the relay would refuse, and says what to fix', async () => {
    const calls = desk();
    const automation = new AutomationState(() => ['m1', 'm2']);
    await automation.load();
    automation.draft.teams[0].name = '';
    expect(await automation.save()).toBe(false);
    expect(automation.problem).toMatch(/name has 1 to 64/);
    expect(calls.some((c) => c.cmd === 'save_automation_setup')).toBe(false);
  });

  it('says someone else saved first, keeps the draft, and reloads their version on request', async () => {
    desk(() => {
      // What the shell rejects with when the relay answers 409 `version_conflict` (error.rs).
      throw { code: 'conflict', message: 'someone saved the automation meanwhile; reload and try again' };
    });
    const automation = new AutomationState(() => ['m1', 'm2']);
    await automation.load();
    automation.draft.enabled = false;
    expect(await automation.save()).toBe(false);
    expect(automation.conflict).toBe(true);
    expect(automation.problem).toBe(CONFLICT);
    expect(automation.draft.enabled).toBe(false);
    await automation.load();
    expect(automation.conflict).toBe(false);
    expect(automation.draft.enabled).toBe(true);
  });

  it('shows any other refusal as the relay said it', async () => {
    desk(() => {
      throw { code: 'forbidden', message: 'Only admins and owners change the automation.' };
    });
    const automation = new AutomationState(() => ['m1', 'm2']);
    await automation.load();
    automation.draft.enabled = false;
    await automation.save();
    expect(automation.conflict).toBe(false);
    expect(automation.problem).toBe('Only admins and owners change the automation.');
  });

  it('previews the draft, not the saved setup', async () => {
    const calls = desk();
    const automation = new AutomationState(() => ['m1', 'm2']);
    await automation.load();
    automation.draft.enabled = false;
    await automation.runPreview();
    expect((calls.find((c) => c.cmd === 'preview_automation')?.args.setup as Setup).enabled).toBe(false);
    expect(automation.preview?.messages_sent).toBe(0);
    expect(automation.preview?.conversations_replayed).toBe(2);
    expect(automation.previewing).toBe(false);
  });

  it('reorders menu options and drops channel defaults of a removed team', async () => {
    desk();
    const automation = new AutomationState(() => ['m1', 'm2']);
    await automation.load();
    automation.setMenu(true);
    automation.addOption();
    automation.draft.menu!.options[1].title = 'Billing';
    automation.moveOption(1, -1);
    expect(automation.draft.menu!.options.map((o) => o.title)).toEqual(['Billing', 'Talk to us']);
    automation.moveOption(0, -1);
    expect(automation.draft.menu!.options[0].title).toBe('Billing');
    automation.draft.channel_teams['whatsapp:1065'] = 'support';
    automation.removeTeam(0);
    expect(automation.draft.channel_teams).toEqual({});
  });
});
