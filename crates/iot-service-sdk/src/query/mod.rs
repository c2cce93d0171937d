//! Twin queries (PROTOCOL 8): [`Query`] checked locally, built from text or with
//! [`QueryBuilder`] and [`Filter`], run as a [`QueryRequest`], read as [`QueryPages`] or
//! [`QueryItems`].

mod builder;
mod filter;
mod page;
mod request;
mod stream;

pub use builder::{Query, QueryBuilder};
pub use filter::{Field, Filter, field};
pub use page::QueryPage;
pub use request::{IntoQuery, QueryRequest};
pub use stream::{QueryItems, QueryPages};

pub(crate) use page::RawPage;
pub(crate) use stream::{Expected, PageFuture, PageSource};
