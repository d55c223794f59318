import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';

const STATUS = {
  path: '/data/cache.sqlite',
  schemaVersion: 1,
  latestMigration: 'create cache',
  writtenByNewerApp: false,
  counts: { channels: 0, contacts: 2, conversations: 0, messages: 5 },
};

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('App', () => {
  it('shows the three inbox regions', () => {
    mockIPC(() => STATUS);
    render(App);
    expect(screen.getByRole('navigation', { name: 'Conversations' })).toBeTruthy();
    expect(screen.getByRole('main', { name: 'Conversation' })).toBeTruthy();
    expect(screen.getByRole('complementary', { name: 'Contact' })).toBeTruthy();
  });

  it('shows the cache status returned by Rust in the status bar', async () => {
    mockIPC(() => STATUS);
    render(App);
    const status = await screen.findByTestId('cache-status');
    expect(status.textContent).toContain('schema v1');
    expect(status.textContent).toContain('0 conversations, 5 messages, 2 contacts');
    expect(screen.getByTestId('cache-path').textContent).toBe('/data/cache.sqlite');
    expect(screen.getByTestId('conversation-list-empty')).toBeTruthy();
  });

  it('offers to try again when the cache is unavailable, and recovers', async () => {
    let attempts = 0;
    mockIPC(() => {
      attempts += 1;
      if (attempts === 1) throw { code: 'cache_unavailable', message: 'the disk is full' };
      return STATUS;
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
    mockIPC(() => {
      throw { code: 'internal', message: 'query failed' };
    });
    render(App);
    const alert = await screen.findByRole('alert');
    expect(alert.dataset.code).toBe('internal');
    expect(screen.queryByRole('button', { name: 'Try again' })).toBeNull();
  });
});
