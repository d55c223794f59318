import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import Team from '../Team.svelte';
import { teamView } from '../../fixtures';
import { emptySetup, officeHours } from '../../stores/automation.svelte';
import type { AutomationSetup, Permission } from '../../ipc';

type Calls = { cmd: string; args: Record<string, unknown> }[];

const ADMIN: Permission[] = ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data'];

/** The relay as the Team dialog sees it for an admin: a saved setup with one Support team. */
function relay(): Calls {
  const calls: Calls = [];
  const saved: AutomationSetup = {
    version: 3,
    setup: {
      ...emptySetup(),
      enabled: true,
      hours: officeHours('Europe/Lisbon'),
      teams: [{ id: 'support', name: 'Support', members: [], assignment: 'round_robin', hours: null, first_response_minutes: null }],
    },
    saved_at: 1,
    saved_by: null,
  };
  mockIPC((cmd, raw) => {
    calls.push({ cmd, args: (raw ?? {}) as Record<string, unknown> });
    switch (cmd) {
      case 'team':
        return teamView('admin', ADMIN);
      case 'channels':
        return [];
      case 'automation_setup':
        return saved;
    }
    return null;
  });
  return calls;
}

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('the Automation tab', () => {
  it("keeps an admin's unsaved edits when another tab is shown and the tab comes back", async () => {
    const calls = relay();
    render(Team, { onclose: () => {}, initial: 'automation' });
    const name = (await screen.findByTestId('team-name')) as HTMLInputElement;
    expect(name.value).toBe('Support');
    await fireEvent.input(name, { target: { value: 'Support desk' } });
    await fireEvent.click(screen.getByTestId('team-tab-channels'));
    await waitFor(() => expect(screen.queryByTestId('team-name')).toBeNull());
    await fireEvent.click(screen.getByTestId('team-tab-automation'));
    const again = (await screen.findByTestId('team-name')) as HTMLInputElement;
    // The refresh the tab does when shown must not start the draft over from the relay's.
    await waitFor(() => expect(calls.filter((c) => c.cmd === 'team').length).toBeGreaterThanOrEqual(3));
    expect(again.value).toBe('Support desk');
    expect(calls.filter((c) => c.cmd === 'automation_setup')).toHaveLength(1);
  });

  it('loads the setup afresh when the tab comes back with nothing unsaved', async () => {
    const calls = relay();
    render(Team, { onclose: () => {}, initial: 'automation' });
    await screen.findByTestId('team-name');
    await fireEvent.click(screen.getByTestId('team-tab-channels'));
    await fireEvent.click(screen.getByTestId('team-tab-automation'));
    await screen.findByTestId('team-name');
    await waitFor(() => expect(calls.filter((c) => c.cmd === 'automation_setup')).toHaveLength(2));
  });
});
