import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { corpus, hasSharedData } from '../test/helpers.js';
import { collapseWhitespace, detokenizeWikitext, normalizeText } from './normalize.js';

describe('normalizeText', () => {
  it('applies NFC and counts the change', () => {
    const { text, counts } = normalizeText('Cafe\u0301 au lait');
    expect(text).toBe('Café au lait');
    expect(text.length).toBe(12);
    expect(counts.unicodeChanged).toBe(1);
    expect(normalizeText('Café').counts.unicodeChanged).toBe(0);
  });

  it('removes NUL bytes and control characters, keeping tabs and newlines as white space', () => {
    const { text, counts } = normalizeText('a\u0000b\u0007c\u001bd\tE\r\nF\u0085G\uFEFF');
    expect(text).toBe('abcd E\nFG');
    expect(counts.nulBytes).toBe(1);
    expect(counts.controlChars).toBe(4);
  });

  it('replaces lone surrogates and keeps valid pairs', () => {
    const { text, counts } = normalizeText('x\uD800y \uD83D\uDE00 z\uDC00');
    expect(text).toBe('x\uFFFDy \uD83D\uDE00 z\uFFFD');
    expect(counts.loneSurrogates).toBe(2);
  });

  it('keeps paragraph breaks and collapses the rest of the white space', () => {
    expect(collapseWhitespace('  a   b \n\n\n\n c\u00A0 d  \n e ')).toBe('a b\n\nc d\ne');
  });

  it('detokenises WikiText markers and punctuation', () => {
    const input =
      'It may grow to a length of 60 cm ( 24 in ) and weigh 0 @.@ 7 – 2 @.@ 2 kg , a 3 @,@ 000 @-@ year @-@ old " lobster red " colour . It \'s the lobster \'s claw .';
    const { text, markers } = detokenizeWikitext(input);
    expect(markers).toBe(5);
    expect(text).toBe(
      'It may grow to a length of 60 cm (24 in) and weigh 0.7 – 2.2 kg, a 3,000-year-old "lobster red" colour. It\'s the lobster\'s claw.',
    );
    expect(detokenizeWikitext(input, { punctuation: false }).text).toContain(
      '0.7 – 2.2 kg , a 3,000-year-old " lobster',
    );
  });

  it('only detokenises when asked', () => {
    expect(normalizeText('3 @,@ 000').text).toBe('3 @,@ 000');
    expect(normalizeText('3 @,@ 000', { wikitext: true }).text).toBe('3,000');
  });

  it.skipIf(!hasSharedData)('leaves no WikiText markers in the real WikiText-2 validation text', () => {
    const raw = readFileSync(corpus.wikitextValid, 'utf8');
    const { text, counts } = normalizeText(raw, { wikitext: true });
    expect(counts.wikitextMarkers).toBeGreaterThan(1000);
    expect(text).not.toMatch(/ @[-,.]@ /);
    expect(text).not.toMatch(/ [,.;:] /);
    expect(text).toContain('Homarus gammarus, known as the European lobster or common lobster, is a species');
  });
});
