import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import Team from '../Team.svelte';
import { MEMBERS, NOW, teamView } from '../../fixtures';
import type { Invitation, Permission } from '../../ipc';

const ADMIN: Permission[] = ['answer', 'manage_members', 'manage_channels', 'read_audit', 'manage_data'];

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('the Members tab', () => {
  it('sends one invitation while it is under way, however often Invite is pressed, and shows its code', async () => {
    const invites: Record<string, unknown>[] = [];
    let answer: (invitation: Invitation) => void = () => {};
    mockIPC((cmd, args) => {
      switch (cmd) {
        case 'team':
          return teamView('admin', ADMIN);
        case 'invite_member':
          invites.push(args as Record<string, unknown>);
          return new Promise<Invitation>((resolve) => (answer = resolve));
      }
      return null;
    });
    render(Team, { onclose: () => {} });
    const email = await screen.findByTestId('invite-email');
    await fireEvent.input(email, { target: { value: 'bo@acme.test' } });
    const form = screen.getByTestId('invite-form');
    await fireEvent.submit(form);
    await fireEvent.submit(form);
    const button = screen.getByTestId('invite-submit') as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    // A second invitation for the same email would renew it and void the first code.
    expect(invites).toHaveLength(1);
    answer({
      member: { ...MEMBERS[1], id: 'm3', email: 'bo@acme.test', display_name: 'Bo', status: 'invited' },
      code: 'K7QP-2M9X',
      link: 'zentro://join?code=K7QP-2M9X',
      expires_at: NOW + 86_400_000,
    } as Invitation);
    await waitFor(() => expect(screen.getByTestId('invitation-code').textContent).toBe('K7QP-2M9X'));
    await waitFor(() => expect(button.disabled).toBe(false));
    expect(invites).toHaveLength(1);
  });
});
