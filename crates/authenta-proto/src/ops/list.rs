//! `GET /media`: one page of records.

use authenta_types::{LIST_LIMIT_MAX, LIST_LIMIT_MIN, ListQuery, MediaList, Operation};
use http::{Request, Response};

use super::{ApiRequest, api_request, url};
use crate::config::Config;
use crate::error::{ProtocolError, ValidationError};
use crate::response::read_json;

/// Lists one page of media records. To walk every page, use
/// [`ListCursor`](crate::ListCursor).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListMedia {
    query: ListQuery,
}

impl ListMedia {
    /// The request for one page; `limit` must be within
    /// [`LIST_LIMIT_MIN`]..=[`LIST_LIMIT_MAX`].
    pub fn new(query: ListQuery) -> Result<Self, ValidationError> {
        if let Some(limit) = query.limit
            && !(LIST_LIMIT_MIN..=LIST_LIMIT_MAX).contains(&limit)
        {
            return Err(ValidationError::InvalidLimit { limit });
        }
        Ok(ListMedia { query })
    }

    /// The query.
    pub fn query(&self) -> ListQuery {
        self.query
    }
}

impl ApiRequest for ListMedia {
    type Output = MediaList;
    const OPERATION: Operation = Operation::ListMedia;

    fn build(&self, config: &Config) -> Result<Request<Vec<u8>>, ProtocolError> {
        let mut uri = url(config, Self::OPERATION, None);
        let mut sep = '?';
        if let Some(limit) = self.query.limit {
            uri.push_str(&format!("{sep}limit={limit}"));
            sep = '&';
        }
        if let Some(offset) = self.query.offset {
            uri.push_str(&format!("{sep}offset={offset}"));
        }
        api_request(config, Self::OPERATION, uri, None)
    }

    fn parse(&self, response: Response<Vec<u8>>) -> Result<MediaList, ProtocolError> {
        let page: MediaList = read_json(&response, Self::OPERATION, None)?;
        super::check_server_mids(page.data.iter().map(|m| &m.mid), &response, Self::OPERATION)?;
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_support::*;

    #[test]
    fn builds_the_query() {
        let all = ListMedia::new(ListQuery::default()).unwrap();
        assert_eq!(
            all.build(&config()).unwrap().uri(),
            "http://127.0.0.1:1/api/media"
        );
        let page = ListMedia::new(ListQuery {
            limit: Some(3),
            offset: Some(6),
        })
        .unwrap();
        let request = page.build(&config()).unwrap();
        assert_eq!(
            request.uri(),
            "http://127.0.0.1:1/api/media?limit=3&offset=6"
        );
        assert_credentials(&request);
        let offset_only = ListMedia::new(ListQuery {
            limit: None,
            offset: Some(2),
        })
        .unwrap();
        assert_eq!(
            offset_only.build(&config()).unwrap().uri(),
            "http://127.0.0.1:1/api/media?offset=2"
        );
    }

    #[test]
    fn refuses_a_limit_out_of_range() {
        for limit in [0, LIST_LIMIT_MAX + 1] {
            let err = ListMedia::new(ListQuery {
                limit: Some(limit),
                offset: None,
            })
            .unwrap_err();
            assert_eq!(err, ValidationError::InvalidLimit { limit });
            assert!(err.to_string().contains("records per page"));
        }
    }

    #[test]
    fn reads_a_page() {
        let op = ListMedia::default();
        let body = format!(r#"{{"limit":3,"offset":0,"total":1,"data":[{MEDIA}]}}"#);
        let page = op.read(&config(), json(200, &body)).unwrap();
        assert_eq!(page.data.len(), 1);
    }
}
