import { renderTemplate } from './bull-board-adapter';
import { fieldOf } from './errors';
import { paginate } from './paginate';

describe('paginate', () => {
  const items = ['c', 'a', 'e', 'b', 'd'].map((id) => ({ id }));

  test('walks every item once, in key order, and ends with a null cursor', () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = paginate(items, (i) => i.id, { limit: 2, cursor });
      seen.push(...page.items.map((i) => i.id));
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  test('a cursor stays right when the item it names is removed', () => {
    const first = paginate(items, (i) => i.id, { limit: 2 });
    const rest = paginate(
      items.filter((i) => i.id !== 'b'),
      (i) => i.id,
      { limit: 2, cursor: first.nextCursor ?? undefined },
    );
    expect(rest.items.map((i) => i.id)).toEqual(['c', 'd']);
  });

  test('a cursor that is not one is a 400 naming cursor', () => {
    expect(() => paginate(items, (i) => i.id, { cursor: '%%' })).toThrow(
      expect.objectContaining({ status: 400, field: 'cursor' }),
    );
  });
});

describe('fieldOf', () => {
  test('names nested, missing and unknown fields as dot paths', () => {
    expect(fieldOf({ instancePath: '/accidentalDeletes/threshold', keyword: 'minimum' }, 'body')).toBe(
      'accidentalDeletes.threshold',
    );
    expect(fieldOf({ instancePath: '/source', keyword: 'required', params: { missingProperty: 'baseDn' } }, 'body')).toBe(
      'source.baseDn',
    );
    expect(
      fieldOf({ instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'treshold' } }, 'body'),
    ).toBe('treshold');
    expect(fieldOf({ instancePath: '', keyword: 'type' }, 'querystring')).toBe('querystring');
  });
});

describe('renderTemplate (bull-board index.ejs)', () => {
  test('escapes <%= %> and leaves <%- %> raw', () => {
    expect(renderTemplate('<title><%= title %></title><script><%- ui %></script>', { title: '<b>&"', ui: '{"a":1}' })).toBe(
      '<title>&lt;b&gt;&amp;&quot;</title><script>{"a":1}</script>',
    );
  });
});
