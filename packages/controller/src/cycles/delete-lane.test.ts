import { mergeTrippedBy } from './delete-lane';

describe('mergeTrippedBy', () => {
  it('keeps each rule once, with its latest value, in the order of the rules', () => {
    expect(
      mergeTrippedBy(
        [
          { rule: 'window', value: 900, limit: 800 },
          { rule: 'count', value: 600, limit: 500 },
        ],
        [
          { rule: 'protected', value: 1, limit: 1 },
          { rule: 'window', value: 1200, limit: 800 },
        ],
      ),
    ).toEqual([
      { rule: 'count', value: 600, limit: 500 },
      { rule: 'window', value: 1200, limit: 800 },
      { rule: 'protected', value: 1, limit: 1 },
    ]);
  });

  it('keeps the earlier rules when a later cycle trips none', () => {
    const earlier = [{ rule: 'count' as const, value: 600, limit: 500 }];
    expect(mergeTrippedBy(earlier, [])).toEqual(earlier);
  });
});
