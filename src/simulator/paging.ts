// Twilio's list paging: PageSize / Page / PageToken in, and the envelope (first_page_uri,
// next_page_uri, previous_page_uri, page, page_size, start, end, uri) out. Page tokens name the
// last (PA) or first (PB) SID of the neighbouring page, so paging stays stable while new
// messages arrive at the front of the list, as Twilio's cursors do.
import { param } from './rules.ts';
import type { FormParams } from './rules.ts';

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

export interface PageQuery {
  pageSize: number;
  page: number;
  pageToken: string | null;
}

// Out-of-range paging values are clamped rather than refused: Twilio's OpenAPI allows
// PageSize 1..1000 and Page >= 0, and a listing should not fail over a paging typo.
export function readPageQuery(query: FormParams): PageQuery {
  const size = Number(param(query, 'PageSize'));
  const page = Number(param(query, 'Page'));
  const token = param(query, 'PageToken');
  return {
    pageSize: Number.isInteger(size) && size >= 1 ? Math.min(size, MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE,
    page: Number.isInteger(page) && page >= 0 ? page : 0,
    pageToken: token !== undefined && token !== '' ? token : null,
  };
}

export interface PageEnvelope {
  end: number;
  first_page_uri: string;
  next_page_uri: string | null;
  page: number;
  page_size: number;
  previous_page_uri: string | null;
  start: number;
  uri: string;
}

export interface ListLocation {
  /** The list's path, e.g. /2010-04-01/Accounts/AC.../Messages.json. */
  path: string;
  /** Filters in the order they appear in page URIs, e.g. [['To', '+1415...']]. */
  filters: [string, string][];
}

function pageUri(location: ListLocation, pageSize: number, page: number, token: string | null): string {
  const pairs: [string, string][] = [...location.filters, ['PageSize', String(pageSize)], ['Page', String(page)]];
  if (token !== null) pairs.push(['PageToken', token]);
  const query = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `${location.path}?${query}`;
}

function startIndex<T>(all: readonly T[], query: PageQuery, sidOf: (item: T) => string): number {
  const token = query.pageToken;
  if (token !== null && (token.startsWith('PA') || token.startsWith('PB'))) {
    const index = all.findIndex((item) => sidOf(item) === token.slice(2));
    if (index >= 0) return token.startsWith('PA') ? index + 1 : Math.max(0, index - query.pageSize);
  }
  // No token, or one naming an item that is gone: fall back to the page number.
  return query.page * query.pageSize;
}

/** One page of `all` (already filtered and ordered) with Twilio's envelope. */
export function paginate<T>(
  all: readonly T[],
  query: PageQuery,
  location: ListLocation,
  sidOf: (item: T) => string,
): { items: T[]; envelope: PageEnvelope } {
  const { pageSize, page } = query;
  const from = startIndex(all, query, sidOf);
  const items = all.slice(from, from + pageSize);
  const last = items.at(-1);
  const first = items[0];
  const hasNext = last !== undefined && from + items.length < all.length;
  const hasPrevious = first !== undefined && from > 0;
  const start = page * pageSize;
  return {
    items,
    envelope: {
      end: items.length > 0 ? start + items.length - 1 : start,
      first_page_uri: pageUri(location, pageSize, 0, null),
      next_page_uri: hasNext ? pageUri(location, pageSize, page + 1, `PA${sidOf(last)}`) : null,
      page,
      page_size: pageSize,
      previous_page_uri: hasPrevious ? pageUri(location, pageSize, Math.max(0, page - 1), `PB${sidOf(first)}`) : null,
      start,
      uri: pageUri(location, pageSize, page, query.pageToken),
    },
  };
}
