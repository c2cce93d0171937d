//! [`QueryPages`] and [`QueryItems`]: query results as streams, fetching the next page only
//! when the previous one is used up.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::de::DeserializeOwned;

use super::page::{QueryPage, RawPage};
use crate::ServiceError;

/// A page being fetched.
pub(crate) type PageFuture = Pin<Box<dyn Future<Output = Result<RawPage, ServiceError>> + Send>>;

/// Where pages come from: the hub, or canned pages in tests.
pub(crate) trait PageSource: Send + Sync {
    /// Fetches the page at `continuation` (the first page for `None`).
    fn fetch(&self, continuation: Option<String>) -> PageFuture;
}

/// What the items must be, when the caller asked for a kind (twins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expected(pub(crate) Option<&'static str>);

enum State {
    /// The next page to fetch (`None`: the first).
    Ready(Option<String>),
    /// A page on its way, and the token it was asked with.
    Fetching(PageFuture, Option<String>),
    /// An error to report, then the end.
    Failed(ServiceError),
    /// No more pages.
    Done,
}

/// The pages of a query, as a [`Stream`] of [`QueryPage`]s; see
/// [`crate::QueryRequest::pages`].
///
/// Each page is fetched when the previous one has been taken, so a consumer that stops early
/// fetches no more. After an error the stream ends. [`QueryPages::next`] reads the next page
/// without a stream combinator library.
pub struct QueryPages<T> {
    source: Arc<dyn PageSource>,
    state: State,
    expected: Expected,
    item: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> QueryPages<T> {
    /// Pages from `source`, starting at `continuation`.
    pub(crate) fn new(
        source: Arc<dyn PageSource>,
        continuation: Option<String>,
        expected: Expected,
    ) -> Self {
        Self {
            source,
            state: State::Ready(continuation),
            expected,
            item: PhantomData,
        }
    }

    /// Pages that report `error` and end.
    pub(crate) fn failed(source: Arc<dyn PageSource>, error: ServiceError) -> Self {
        Self {
            source,
            state: State::Failed(error),
            expected: Expected(None),
            item: PhantomData,
        }
    }

    /// The next page, or `None` after the last.
    pub async fn next(&mut self) -> Option<Result<QueryPage<T>, ServiceError>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// What follows a page fetched with `sent`: the page, or an error when the hub answered
    /// with items of the wrong kind or with the very token it was given (which would page in
    /// circles forever).
    fn accept(&mut self, page: RawPage, sent: Option<&str>) -> Result<QueryPage<T>, ServiceError> {
        if let (Some(expected), Some(found)) = (self.expected.0, page.item_type.as_deref()) {
            if expected != found {
                return Err(ServiceError::protocol(format!(
                    "the hub answered with {found} items, not {expected}"
                )));
            }
        }
        if page.continuation.is_some() && page.continuation.as_deref() == sent {
            return Err(ServiceError::protocol(
                "the hub answered with the continuation token it was given",
            ));
        }
        self.state = match &page.continuation {
            Some(token) => State::Ready(Some(token.clone())),
            None => State::Done,
        };
        page.typed()
    }
}

impl<T: DeserializeOwned> Stream for QueryPages<T> {
    type Item = Result<QueryPage<T>, ServiceError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, State::Done) {
                State::Ready(continuation) => {
                    let future = this.source.fetch(continuation.clone());
                    this.state = State::Fetching(future, continuation);
                }
                State::Fetching(mut future, sent) => match future.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.state = State::Fetching(future, sent);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(page)) => {
                        let page = this.accept(page, sent.as_deref());
                        if page.is_err() {
                            this.state = State::Done;
                        }
                        return Poll::Ready(Some(page));
                    }
                    Poll::Ready(Err(error)) => return Poll::Ready(Some(Err(error))),
                },
                State::Failed(error) => return Poll::Ready(Some(Err(error))),
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

impl<T> fmt::Debug for QueryPages<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Ready(_) => "ready",
            State::Fetching(..) => "fetching",
            State::Failed(_) => "failed",
            State::Done => "done",
        };
        f.debug_struct("QueryPages")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

/// The items of a query, one at a time, as a [`Stream`]; see
/// [`crate::QueryRequest::items`]. Pages are fetched as the items run out.
pub struct QueryItems<T> {
    pages: QueryPages<T>,
    buffered: VecDeque<T>,
}

// The items are only moved in and out of the buffer, never pinned.
impl<T> Unpin for QueryItems<T> {}

impl<T: DeserializeOwned> QueryItems<T> {
    pub(crate) fn new(pages: QueryPages<T>) -> Self {
        Self {
            pages,
            buffered: VecDeque::new(),
        }
    }

    /// The next item, or `None` after the last.
    pub async fn next(&mut self) -> Option<Result<T, ServiceError>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Every remaining item, fetching every remaining page; stops at the first error.
    pub async fn collect_all(mut self) -> Result<Vec<T>, ServiceError> {
        let mut all = Vec::new();
        while let Some(item) = self.next().await {
            all.push(item?);
        }
        Ok(all)
    }
}

impl<T: DeserializeOwned> Stream for QueryItems<T> {
    type Item = Result<T, ServiceError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.buffered.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match Pin::new(&mut this.pages).poll_next(cx) {
                Poll::Ready(Some(Ok(page))) => this.buffered.extend(page.into_items()),
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<T> fmt::Debug for QueryItems<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryItems")
            .field("pages", &self.pages)
            .field("buffered", &self.buffered.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use serde_json::{Value, json};

    /// Canned pages, keyed by the continuation they answer; records what was asked.
    struct Canned {
        pages: Vec<(Option<&'static str>, Result<RawPage, ServiceError>)>,
        asked: Mutex<Vec<Option<String>>>,
    }

    impl PageSource for Canned {
        fn fetch(&self, continuation: Option<String>) -> PageFuture {
            self.asked.lock().unwrap().push(continuation.clone());
            let answer = self
                .pages
                .iter()
                .find(|(token, _)| token.map(str::to_owned) == continuation)
                .map(|(_, page)| page.clone())
                .unwrap_or_else(|| Err(ServiceError::protocol("no such page")));
            Box::pin(async move { answer })
        }
    }

    fn page(ids: &[&str], next: Option<&str>) -> RawPage {
        let items: Vec<Value> = ids.iter().map(|id| json!({"deviceId": id})).collect();
        RawPage {
            body: serde_json::to_vec(&items).unwrap(),
            continuation: next.map(str::to_owned),
            item_type: Some("Raw".into()),
        }
    }

    fn source(pages: Vec<(Option<&'static str>, Result<RawPage, ServiceError>)>) -> Arc<Canned> {
        Arc::new(Canned {
            pages,
            asked: Mutex::new(Vec::new()),
        })
    }

    fn ids(items: Vec<Value>) -> Vec<String> {
        items
            .into_iter()
            .map(|v| v["deviceId"].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn pages_follow_continuations_until_absent() {
        let canned = source(vec![
            (None, Ok(page(&["a", "b"], Some("t1")))),
            (Some("t1"), Ok(page(&[], Some("t2")))),
            (Some("t2"), Ok(page(&["c"], None))),
        ]);
        let items = QueryItems::new(QueryPages::<Value>::new(
            canned.clone(),
            None,
            Expected(None),
        ));
        assert_eq!(ids(items.collect_all().await.unwrap()), ["a", "b", "c"]);
        let asked = canned.asked.lock().unwrap().clone();
        assert_eq!(asked, [None, Some("t1".into()), Some("t2".into())]);
    }

    #[tokio::test]
    async fn a_consumer_that_stops_fetches_no_more() {
        let canned = source(vec![
            (None, Ok(page(&["a"], Some("t1")))),
            (Some("t1"), Ok(page(&["b"], None))),
        ]);
        let mut items = QueryItems::new(QueryPages::<Value>::new(
            canned.clone(),
            None,
            Expected(None),
        ));
        assert!(items.next().await.unwrap().is_ok());
        assert_eq!(canned.asked.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn resuming_starts_at_the_token() {
        let canned = source(vec![(Some("t9"), Ok(page(&["z"], None)))]);
        let mut pages = QueryPages::<Value>::new(canned, Some("t9".into()), Expected(None));
        let first = pages.next().await.unwrap().unwrap();
        assert_eq!((first.len(), first.continuation()), (1, None));
        assert!(pages.next().await.is_none());
    }

    #[tokio::test]
    async fn errors_end_the_stream() {
        let canned = source(vec![
            (None, Ok(page(&["a"], Some("t1")))),
            (Some("t1"), Err(ServiceError::protocol("boom"))),
        ]);
        let mut items = QueryItems::new(QueryPages::<Value>::new(canned, None, Expected(None)));
        assert!(items.next().await.unwrap().is_ok());
        assert!(items.next().await.unwrap().is_err());
        assert!(items.next().await.is_none());
    }

    #[tokio::test]
    async fn a_hub_that_repeats_the_token_is_stopped() {
        let canned = source(vec![
            (None, Ok(page(&["a"], Some("t1")))),
            (Some("t1"), Ok(page(&["a"], Some("t1")))),
        ]);
        let mut pages = QueryPages::<Value>::new(canned, None, Expected(None));
        assert!(pages.next().await.unwrap().is_ok());
        let error = pages.next().await.unwrap().unwrap_err();
        assert!(error.to_string().contains("continuation token"), "{error}");
        assert!(pages.next().await.is_none());
    }

    #[tokio::test]
    async fn items_of_the_wrong_kind_are_refused() {
        let canned = source(vec![(None, Ok(page(&["a"], None)))]);
        let mut pages = QueryPages::<Value>::new(canned, None, Expected(Some("Twin")));
        let error = pages.next().await.unwrap().unwrap_err();
        assert!(error.to_string().contains("Raw items, not Twin"), "{error}");
    }

    #[tokio::test]
    async fn failed_streams_report_once() {
        let canned = source(Vec::new());
        let mut pages = QueryPages::<Value>::failed(canned, ServiceError::protocol("early"));
        assert!(pages.next().await.unwrap().is_err());
        assert!(pages.next().await.is_none());
    }
}
