import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { teamView } from '../fixtures';
import { removeMember, type Permission } from '../ipc';
import { TeamState } from './team.svelte';

type Calls = { cmd: string; args: Record<string, unknown> }[];

const ADMIN: Permission[] = ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data'];

/** The relay as the Team dialog sees it, for a member with `permissions`. */
function relay(permissions: Permission[], overrides: Record<string, (args: Record<string, unknown>) => unknown> = {}): Calls {
  const calls: Calls = [];
  const answers: Record<string, (args: Record<string, unknown>) => unknown> = {
    team: () => teamView('agent', permissions),
    devices: () => [{ id: 'd1', name: 'Laptop', member_email: 'ana@acme.test', created_at: 1, last_seen_at: 2, current: true }],
    channels: () => [],
    retention: () => ({ conversation_days: null, media_days: 30 }),
    audit_log: (args) => (args.before === null ? { entries: [{ id: 2 }], next_before: 2 } : { entries: [{ id: 1 }], next_before: null }),
    ...overrides,
  };
  mockIPC((cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    const answer = answers[cmd];
    return answer ? answer(args) : null;
  });
  return calls;
}

afterEach(() => clearMocks());

describe('the Team dialog', () => {
  it('loads the team and what the tab shows, with what the member may do', async () => {
    const calls = relay(ADMIN);
    const team = new TeamState('devices');
    expect(team.loading).toBe(true);
    await team.reload();
    expect(team.loading).toBe(false);
    expect(team.view?.workspace_name).toBe('Acme');
    expect([team.manageMembers, team.readAudit, team.isOwner, team.mayConnect]).toEqual([true, true, false, false]);
    // An admin sees everyone's devices.
    expect(calls.find((c) => c.cmd === 'devices')?.args).toEqual({ all: true });
    expect(team.devices).toHaveLength(1);

    await team.show('data');
    expect([team.conversationDays, team.mediaDays]).toEqual(['', 30]);
    await team.show('audit');
    await team.moreAudit();
    expect(team.audit.map((e) => e.id)).toEqual([2, 1]);
    expect(team.auditMore).toBeNull();
  });

  it('loads no audit log for a member who may not read it', async () => {
    const calls = relay(['answer']);
    const team = new TeamState('audit');
    await team.reload();
    expect(calls.some((c) => c.cmd === 'audit_log')).toBe(false);
  });

  it('runs an action asked about only on "Yes", then says it worked or why not', async () => {
    let refuse = false;
    const calls = relay(ADMIN, {
      remove_member: () => {
        if (refuse) throw { code: 'forbidden', message: 'not allowed' };
        return null;
      },
    });
    const team = new TeamState('members');
    await team.reload();
    team.ask('Remove ana@acme.test from the team?', () => removeMember('m2'));
    expect(team.confirming?.label).toContain('ana@acme.test');
    expect(calls.some((c) => c.cmd === 'remove_member')).toBe(false);
    await team.confirm();
    expect(team.confirming).toBeNull();
    expect(team.notice).toBe('Done.');
    expect(calls.filter((c) => c.cmd === 'team')).toHaveLength(2);

    refuse = true;
    await team.run('Removed.', () => removeMember('m2'));
    expect(team.notice).toBeNull();
    expect(team.problem).toBe('not allowed');
  });

  it("says how Meta's signup ended", async () => {
    let state = 'cancelled';
    relay(ADMIN, { connect_channels: () => ({ state, message: `The signup was ${state}.`, channel_id: null }) });
    const team = new TeamState('channels');
    await team.connect('whatsapp');
    expect(team.problem).toBe('The signup was cancelled.');
    expect(team.connecting).toBeNull();
    state = 'connected';
    await team.connect('pages');
    expect(team.notice).toBe('The signup was connected.');
    expect(team.problem).toBeNull();
  });
});
