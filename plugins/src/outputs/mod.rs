//! Outputs: deliver chunks and answer ok, retry or error; the engine owns retries.

use weir_core::Registry;

#[cfg(feature = "out-counter")]
pub mod counter;
#[cfg(feature = "out-file")]
pub mod file;
#[cfg(any(
    feature = "out-stdout",
    feature = "out-file",
    feature = "filter-stdout"
))]
pub mod format;
#[cfg(feature = "out-null")]
pub mod null;
#[cfg(feature = "out-prometheus-exporter")]
pub mod prometheus_exporter;
#[cfg(feature = "out-stdout")]
pub mod stdout;
#[cfg(feature = "out-vivo-exporter")]
pub mod vivo_exporter;

#[allow(unused_variables)]
pub(crate) fn register(r: &mut Registry) {
    #[cfg(feature = "out-counter")]
    r.register(&counter::DESCRIPTOR);
    #[cfg(feature = "out-file")]
    r.register(&file::DESCRIPTOR);
    #[cfg(feature = "out-null")]
    r.register(&null::DESCRIPTOR);
    #[cfg(feature = "out-prometheus-exporter")]
    r.register(&prometheus_exporter::DESCRIPTOR);
    #[cfg(feature = "out-stdout")]
    r.register(&stdout::DESCRIPTOR);
    #[cfg(feature = "out-vivo-exporter")]
    r.register(&vivo_exporter::DESCRIPTOR);
}
