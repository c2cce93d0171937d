//! Polls a future and turns a panic inside it into a value.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// What a panic carried.
pub(crate) type PanicPayload = Box<dyn Any + Send>;

/// Wraps a boxed future; resolves to `Err` with the panic payload if polling it panics.
///
/// Once it has resolved it must not be polled again (like any future).
pub(crate) struct CatchPanic<F> {
    inner: F,
}

impl<F> CatchPanic<F> {
    pub(crate) fn new(inner: F) -> Self {
        Self { inner }
    }
}

impl<F: Future + Unpin> Future for CatchPanic<F> {
    type Output = Result<F::Output, PanicPayload>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.inner;
        // The future is dropped right after a panic and never polled again, so no broken
        // invariant inside it can be observed.
        match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The text of a panic, when it carried one (`panic!("...")` carries a `&str` or a `String`).
pub(crate) fn panic_message(payload: &PanicPayload) -> &str {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "no message"
    }
}
