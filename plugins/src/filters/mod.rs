//! Filters: run on the ingest path, once per batch, before buffering.

use weir_core::Registry;

#[cfg(feature = "filter-grep")]
pub mod grep;
#[cfg(feature = "filter-modify")]
pub mod modify;
#[cfg(feature = "filter-nest")]
pub mod nest;
#[cfg(feature = "filter-parser")]
pub mod parser;
#[cfg(feature = "filter-record-modifier")]
pub mod record_modifier;
#[cfg(feature = "filter-rewrite-tag")]
pub mod rewrite_tag;
#[cfg(feature = "filter-stdout")]
pub mod stdout;
#[cfg(feature = "filter-throttle")]
pub mod throttle;

#[cfg(any(
    feature = "filter-grep",
    feature = "filter-modify",
    feature = "filter-nest",
    feature = "filter-parser",
    feature = "filter-record-modifier",
    feature = "filter-rewrite-tag",
    feature = "filter-throttle",
))]
mod support;

#[allow(unused_variables)]
pub(crate) fn register(r: &mut Registry) {
    #[cfg(feature = "filter-grep")]
    r.register(&grep::DESCRIPTOR);
    #[cfg(feature = "filter-modify")]
    r.register(&modify::DESCRIPTOR);
    #[cfg(feature = "filter-nest")]
    r.register(&nest::DESCRIPTOR);
    #[cfg(feature = "filter-parser")]
    r.register(&parser::DESCRIPTOR);
    #[cfg(feature = "filter-record-modifier")]
    r.register(&record_modifier::DESCRIPTOR);
    #[cfg(feature = "filter-rewrite-tag")]
    r.register(&rewrite_tag::DESCRIPTOR);
    #[cfg(feature = "filter-stdout")]
    r.register(&stdout::DESCRIPTOR);
    #[cfg(feature = "filter-throttle")]
    r.register(&throttle::DESCRIPTOR);
}
