//! Pagination over `limit` and `offset`: a cursor that stops at `total`, on
//! a short page or on an empty one, and on a page that adds no record it
//! has not seen (a server that ignores `offset`), and so cannot loop
//! forever.

use std::collections::HashSet;

use authenta_types::{LIST_LIMIT_MAX, ListQuery, Media, MediaId, MediaList};

use crate::error::ValidationError;

/// Walks every page of `GET /media`.
///
/// Ask [`ListCursor::next_query`] for the next page's query, send it, and
/// hand the page to [`ListCursor::advance`]; `next_query` returns `None`
/// once the listing is complete.
///
/// ```
/// use authenta_proto::paginate::ListCursor;
/// use authenta_proto::types::MediaList;
///
/// let mut cursor = ListCursor::new(2).unwrap();
/// let query = cursor.next_query().unwrap();
/// assert_eq!((query.limit, query.offset), (Some(2), Some(0)));
/// let empty = MediaList { limit: 2, offset: 0, total: 0, data: vec![] };
/// cursor.advance(&empty).unwrap();
/// assert!(cursor.next_query().is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListCursor {
    page_size: u32,
    offset: u64,
    done: bool,
    pages: u64,
    /// Every record listed so far.
    seen: HashSet<MediaId>,
    /// Records served again on a later page.
    duplicates: u64,
    /// The `total` of the latest page.
    total: u64,
}

impl ListCursor {
    /// A cursor asking for `page_size` records per page (1 to 100).
    pub fn new(page_size: u32) -> Result<Self, ValidationError> {
        crate::ops::ListMedia::new(ListQuery {
            limit: Some(page_size),
            offset: None,
        })?;
        Ok(ListCursor {
            page_size,
            offset: 0,
            done: false,
            pages: 0,
            seen: HashSet::new(),
            duplicates: 0,
            total: 0,
        })
    }

    /// A cursor with the largest page the API takes.
    pub fn largest_pages() -> Self {
        ListCursor::new(LIST_LIMIT_MAX).expect("the largest limit is valid")
    }

    /// The query for the next page, or `None` when every page has been read.
    pub fn next_query(&self) -> Option<ListQuery> {
        (!self.done).then_some(ListQuery {
            limit: Some(self.page_size),
            offset: Some(self.offset),
        })
    }

    /// Takes in the page answering the last query. The walk ends when the
    /// page is empty, shorter than the page size the server used (its
    /// `limit`, which may be less than asked), or reaches `total` as the
    /// latest page states it (so records added or removed meanwhile do not
    /// stall it). A page for another offset than asked, or a page none of
    /// whose records is new (a server that ignores `offset` but echoes it),
    /// ends the walk with an error rather than yield records twice or never
    /// end. Records served again among new ones are counted
    /// ([`ListCursor::duplicates`]); a walk that ends short of the `total`
    /// the server announced is logged ([`ListCursor::shortfall`]).
    pub fn advance(&mut self, page: &MediaList) -> Result<(), InconsistentPage> {
        self.account(page).map(|_| ())
    }

    /// [`ListCursor::advance`], returning the page's records that were not
    /// listed before (a record served twice is yielded once).
    pub fn fresh(&mut self, page: MediaList) -> Result<Vec<Media>, InconsistentPage> {
        let new = self.account(&page)?;
        Ok(page
            .data
            .into_iter()
            .zip(new)
            .filter_map(|(media, new)| new.then_some(media))
            .collect())
    }

    /// The checks and the bookkeeping: whether each record is new.
    fn account(&mut self, page: &MediaList) -> Result<Vec<bool>, InconsistentPage> {
        self.pages += 1;
        if page.offset != self.offset {
            self.done = true;
            return Err(InconsistentPage::WrongOffset {
                asked: self.offset,
                got: page.offset,
            });
        }
        let new: Vec<bool> = page
            .data
            .iter()
            .map(|m| self.seen.insert(m.mid.clone()))
            .collect();
        let fresh = new.iter().filter(|n| **n).count() as u64;
        let repeated = new.len() as u64 - fresh;
        if !page.data.is_empty() && fresh == 0 {
            self.done = true;
            return Err(InconsistentPage::NoNewRecord {
                offset: self.offset,
                repeated,
            });
        }
        if repeated > 0 {
            self.duplicates += repeated;
            tracing::warn!(
                offset = self.offset,
                repeated,
                "the server served records already listed; each is listed once"
            );
        }
        let got = page.data.len() as u64;
        self.offset += got;
        self.total = page.total;
        let served_limit = u64::from(page.limit.clamp(1, self.page_size));
        if got == 0 || got < served_limit || self.offset >= page.total {
            self.done = true;
            if let Some(short) = self.shortfall() {
                tracing::warn!(
                    listed = self.seen.len(),
                    total = self.total,
                    short,
                    "the listing ended short of the total the server announced (records deleted meanwhile, or an inconsistent server)"
                );
            }
        }
        Ok(new)
    }

    /// How many records were served again on a later page (and skipped).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Once the walk has ended: how many records short of the latest
    /// `total` it is, if any.
    pub fn shortfall(&self) -> Option<u64> {
        let listed = self.seen.len() as u64;
        (self.done && listed < self.total).then(|| self.total - listed)
    }

    /// Ends the walk: [`ListCursor::next_query`] returns `None` from now on
    /// (after a page failed, say).
    pub fn stop(&mut self) {
        self.done = true;
    }

    /// How many pages have been read.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// The offset of the next page.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// A page that contradicts the listing so far: the walk stops rather than
/// repeat records or never end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InconsistentPage {
    /// The server answered a page for another offset than asked.
    #[error(
        "the server answered the page at offset {got} when asked for offset {asked}; the listing stopped rather than repeat records"
    )]
    WrongOffset {
        /// The offset asked for.
        asked: u64,
        /// The offset the page says it starts at.
        got: u64,
    },
    /// The page at `offset` held only records listed before: the server
    /// ignores `offset` (while echoing it), so the listing would never end.
    #[error(
        "the server answered the page at offset {offset} with {repeated} records all listed before (it ignores `offset`); the listing stopped rather than repeat them without end"
    )]
    NoNewRecord {
        /// The offset asked for.
        offset: u64,
        /// How many records it served again.
        repeated: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use authenta_types::{Media, MediaId};

    fn media(i: u64) -> Media {
        serde_json::from_value(serde_json::json!({
            "mid": format!("{i:024x}"), "name": "n", "type": "Image", "status": "PROCESSED",
            "modelType": "AC-1", "createdAt": "2025-12-02T19:39:27.525Z"
        }))
        .unwrap()
    }

    /// Serves `records` from a fake server whose `total` may change per page.
    fn walk(
        page_size: u32,
        served_limit: u32,
        records: &[u64],
        totals: &[u64],
    ) -> (Vec<MediaId>, u64) {
        let mut cursor = ListCursor::new(page_size).unwrap();
        let mut seen = Vec::new();
        while let Some(q) = cursor.next_query() {
            let offset = q.offset.unwrap() as usize;
            let limit = q.limit.unwrap().min(served_limit) as usize;
            let total = totals
                .get(cursor.pages() as usize)
                .copied()
                .unwrap_or(*totals.last().unwrap());
            let data: Vec<Media> = records
                .iter()
                .skip(offset)
                .take(limit)
                .map(|&i| media(i))
                .collect();
            seen.extend(data.iter().map(|m| m.mid.clone()));
            cursor
                .advance(&MediaList {
                    limit: limit as u32,
                    offset: offset as u64,
                    total,
                    data,
                })
                .unwrap();
            assert!(cursor.pages() < 1000, "the cursor must stop");
        }
        (seen, cursor.pages())
    }

    #[test]
    fn empty_list_is_one_page() {
        assert_eq!(walk(10, 10, &[], &[0]), (vec![], 1));
    }

    #[test]
    fn every_record_once() {
        let records: Vec<u64> = (0..25).collect();
        let (seen, pages) = walk(10, 10, &records, &[25]);
        assert_eq!(seen.len(), 25);
        assert_eq!(pages, 3);
        let exact: Vec<u64> = (0..20).collect();
        assert_eq!(
            walk(10, 10, &exact, &[20]).1,
            2,
            "stops at total without an extra page"
        );
    }

    #[test]
    fn short_page_stops_even_if_total_says_more() {
        let records: Vec<u64> = (0..5).collect();
        let (seen, pages) = walk(10, 10, &records, &[50]);
        assert_eq!((seen.len(), pages), (5, 1));
    }

    #[test]
    fn a_server_capping_the_limit_is_still_walked_to_the_end() {
        let records: Vec<u64> = (0..25).collect();
        let (seen, pages) = walk(10, 4, &records, &[25]);
        assert_eq!((seen.len(), pages), (25, 7));
    }

    #[test]
    fn total_changing_between_pages() {
        let records: Vec<u64> = (0..30).collect();
        // total grows from 20 to 30 after the first page: the latest total rules.
        let (seen, _) = walk(10, 10, &records, &[20, 30, 30]);
        assert_eq!(seen.len(), 30);
        // total shrinks to 10 after the first page: stop there.
        let (seen, pages) = walk(10, 10, &records, &[30, 10]);
        assert_eq!((seen.len(), pages), (20, 2));
    }

    #[test]
    fn an_empty_page_before_total_stops() {
        // The server claims 100 records but serves none: no endless loop.
        assert_eq!(walk(10, 10, &[], &[100]), (vec![], 1));
        // A server answering limit 0 cannot stall it: the offset still moves.
        let mut cursor = ListCursor::new(10).unwrap();
        cursor
            .advance(&MediaList {
                limit: 0,
                offset: 0,
                total: 100,
                data: vec![media(1)],
            })
            .unwrap();
        assert_eq!(cursor.next_query().unwrap().offset, Some(1));
    }

    #[test]
    fn a_page_for_another_offset_ends_the_walk() {
        let mut cursor = ListCursor::new(2).unwrap();
        cursor
            .advance(&MediaList {
                limit: 2,
                offset: 0,
                total: 10,
                data: vec![media(1), media(2)],
            })
            .unwrap();
        // A server ignoring `offset` serves the first page again.
        let err = cursor
            .advance(&MediaList {
                limit: 2,
                offset: 0,
                total: 10,
                data: vec![media(1), media(2)],
            })
            .unwrap_err();
        assert_eq!(err, InconsistentPage::WrongOffset { asked: 2, got: 0 });
        assert!(cursor.next_query().is_none());
    }

    #[test]
    fn a_server_that_ignores_the_offset_but_echoes_it_is_stopped() {
        let mut cursor = ListCursor::new(2).unwrap();
        let page = |offset| MediaList {
            limit: 2,
            offset,
            total: 1_000_000_000,
            data: vec![media(1), media(2)],
        };
        assert_eq!(cursor.fresh(page(0)).unwrap().len(), 2);
        let err = cursor.fresh(page(2)).unwrap_err();
        assert_eq!(
            err,
            InconsistentPage::NoNewRecord {
                offset: 2,
                repeated: 2
            }
        );
        assert!(err.to_string().contains("ignores `offset`"), "{err}");
        assert!(cursor.next_query().is_none());
    }

    #[test]
    fn repeated_records_are_listed_once_and_a_short_total_is_told() {
        let mut cursor = ListCursor::new(2).unwrap();
        let page = |offset, data: Vec<u64>| MediaList {
            limit: 2,
            offset,
            total: 10,
            data: data.into_iter().map(media).collect(),
        };
        assert_eq!(cursor.fresh(page(0, vec![1, 2])).unwrap().len(), 2);
        let fresh = cursor.fresh(page(2, vec![2, 3])).unwrap();
        assert_eq!(
            fresh.iter().map(|m| m.mid.clone()).collect::<Vec<_>>(),
            [media(3).mid]
        );
        assert_eq!(cursor.duplicates(), 1);
        assert_eq!(cursor.shortfall(), None, "not over yet");
        assert!(cursor.fresh(page(4, vec![4])).unwrap().len() == 1);
        assert!(cursor.next_query().is_none());
        assert_eq!(cursor.shortfall(), Some(6));
    }

    #[test]
    fn page_size_is_validated() {
        assert!(ListCursor::new(0).is_err());
        assert!(ListCursor::new(101).is_err());
        assert_eq!(
            ListCursor::largest_pages().next_query().unwrap().limit,
            Some(100)
        );
    }
}
