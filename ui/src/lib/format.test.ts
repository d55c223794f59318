import { describe, expect, it } from 'vitest';
import { countdown, formatBytes, formatDuration, linkParts, snippetParts } from './format';

describe('format', () => {
  it('counts down the reply window in hours and minutes, never below zero', () => {
    const now = 1_000_000;
    expect(countdown(now + (23 * 3600 + 12 * 60 + 5) * 1000, now)).toBe('23h 12m');
    expect(countdown(now + 12 * 60 * 1000, now)).toBe('12m');
    expect(countdown(now + 40 * 1000, now)).toBe('40s');
    expect(countdown(now - 5000, now)).toBe('0s');
  });

  it('marks what search matched', () => {
    expect(snippetParts('where is my [invoice] for [March]?')).toEqual([
      { text: 'where is my ', mark: false },
      { text: 'invoice', mark: true },
      { text: ' for ', mark: false },
      { text: 'March', mark: true },
      { text: '?', mark: false },
    ]);
  });

  it('finds web links and nothing else', () => {
    expect(linkParts('see https://example.com/a?b=1, or mail me')).toEqual([
      { text: 'see ', href: null },
      { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { text: ', or mail me', href: null },
    ]);
    expect(linkParts('javascript:alert(1)')).toEqual([{ text: 'javascript:alert(1)', href: null }]);
  });

  it('writes download sizes the way file managers do', () => {
    expect(formatBytes(812)).toBe('812 B');
    expect(formatBytes(4_200)).toBe('4.2 kB');
    expect(formatBytes(7_340_032)).toBe('7.3 MB');
    expect(formatBytes(123_000_000)).toBe('123 MB');
    expect(formatBytes(2_500_000_000)).toBe('2.5 GB');
  });

  it('writes durations for people, to two units at most', () => {
    expect(formatDuration(null)).toBe('—');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(45)).toBe('45s');
    expect(formatDuration(59.6)).toBe('1m');
    expect(formatDuration(12 * 60 + 30)).toBe('12m');
    expect(formatDuration(3600)).toBe('1h');
    expect(formatDuration(3 * 3600 + 5 * 60 + 59)).toBe('3h 5m');
    expect(formatDuration(2 * 86400)).toBe('2d');
    expect(formatDuration(2 * 86400 + 4 * 3600 + 120)).toBe('2d 4h');
  });
});
