import { describe, expect, it } from 'vitest';
import { Overlays } from './overlay.svelte';

describe('the overlay over the inbox', () => {
  it('shows one overlay at a time: opening another replaces it', () => {
    const overlay = new Overlays();
    expect(overlay.current).toBe('none');
    expect(overlay.open).toBe(false);
    overlay.show('help');
    overlay.show('search');
    expect(overlay.current).toBe('search');
    expect(overlay.open).toBe(true);
    overlay.showTeam('channels');
    expect(overlay.current).toBe('team');
    expect(overlay.teamSection).toBe('channels');
  });

  it('closes only the overlay named, or whichever is open', () => {
    const overlay = new Overlays();
    overlay.show('about');
    overlay.close('help');
    expect(overlay.current).toBe('about');
    overlay.close('about');
    expect(overlay.current).toBe('none');
    overlay.show('canned');
    overlay.close();
    expect(overlay.current).toBe('none');
  });

  it('keeps the invitation for sign-in until sign-in finishes', () => {
    const overlay = new Overlays();
    overlay.show('welcome');
    overlay.showSignIn(true, { relay: 'https://relay.acme.test', code: 'WXYZ-2345' });
    expect(overlay.current).toBe('signIn');
    overlay.close('signIn');
    overlay.show('signIn');
    expect(overlay.invited).toBe(true);
    expect(overlay.invitation?.code).toBe('WXYZ-2345');
    overlay.closeSignIn();
    expect(overlay.current).toBe('none');
    expect(overlay.invited).toBe(false);
    expect(overlay.invitation).toBeNull();
  });

  it('closes what would hide a conversation a link opens, and nothing else', () => {
    const overlay = new Overlays();
    for (const hiding of ['search', 'about', 'team'] as const) {
      overlay.show(hiding);
      overlay.closeForLink();
      expect(overlay.current).toBe('none');
    }
    for (const kept of ['help', 'canned', 'signIn', 'welcome'] as const) {
      overlay.show(kept);
      overlay.closeForLink();
      expect(overlay.current).toBe(kept);
    }
  });
});
