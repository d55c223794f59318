import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import CannedReplies from './CannedReplies.svelte';

afterEach(() => cleanup());

// Dialog.svelte through the dialogs that use it (a dialog is its content).
describe('a dialog', () => {
  it('is a labelled modal dialog that Escape and the backdrop close', async () => {
    const onclose = vi.fn();
    const { container } = render(CannedReplies, { replies: [], canAct: true, onclose });
    const dialog = screen.getByRole('dialog', { name: 'Canned replies' });
    expect(dialog.getAttribute('aria-modal')).toBe('true');
    expect(dialog.dataset.testid).toBe('canned-replies');
    await fireEvent.keyDown(window, { key: 'Escape' });
    expect(onclose).toHaveBeenCalledTimes(1);
    await fireEvent.click(container.querySelector('.backdrop')!);
    expect(onclose).toHaveBeenCalledTimes(2);
  });

  it('takes focus when it opens, keeps Tab inside, and gives focus back when it closes', async () => {
    const opener = document.createElement('button');
    document.body.append(opener);
    opener.focus();
    const { unmount } = render(CannedReplies, { replies: [], canAct: true, onclose: () => {} });
    const dialog = screen.getByRole('dialog');
    expect(dialog.contains(document.activeElement)).toBe(true);
    const inside = [...dialog.querySelectorAll<HTMLElement>('button:not([disabled]), input, textarea')];
    const [first, last] = [inside[0], inside[inside.length - 1]];
    last.focus();
    await fireEvent.keyDown(last, { key: 'Tab' });
    expect(document.activeElement).toBe(first);
    await fireEvent.keyDown(first, { key: 'Tab', shiftKey: true });
    expect(document.activeElement).toBe(last);
    unmount();
    expect(document.activeElement).toBe(opener);
    opener.remove();
  });
});
