//! Pagination over `limit` and `offset`: a cursor that stops at `total`, on
//! a short page or on an empty one, and so cannot loop forever.

use authenta_types::{LIST_LIMIT_MAX, ListQuery, MediaList};

use crate::error::ValidationError;

/// Walks every page of `GET /media`.
///
/// Ask [`ListCursor::next_query`] for the next page's query, send it, and
/// hand the page to [`ListCursor::advance`]; `next_query` returns `None`
/// once the listing is complete.
///
/// ```
/// use authenta_proto::ListCursor;
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
    /// stall it). A page for another offset than asked ends the walk with
    /// an error rather than yield records twice.
    pub fn advance(&mut self, page: &MediaList) -> Result<(), InconsistentPage> {
        self.pages += 1;
        if page.offset != self.offset {
            self.done = true;
            return Err(InconsistentPage {
                asked: self.offset,
                got: page.offset,
            });
        }
        let got = page.data.len() as u64;
        self.offset += got;
        let served_limit = u64::from(page.limit.clamp(1, self.page_size));
        if got == 0 || got < served_limit || self.offset >= page.total {
            self.done = true;
        }
        Ok(())
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

/// The server answered a page for another offset than asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the server answered the page at offset {got} when asked for offset {asked}; the listing stopped rather than repeat records"
)]
pub struct InconsistentPage {
    /// The offset asked for.
    pub asked: u64,
    /// The offset the page says it starts at.
    pub got: u64,
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
        assert_eq!(err, InconsistentPage { asked: 2, got: 0 });
        assert!(cursor.next_query().is_none());
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
