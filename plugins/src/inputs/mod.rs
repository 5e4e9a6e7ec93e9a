//! Inputs: where events come from.

use weir_core::Registry;

#[cfg(feature = "in-dummy")]
pub mod dummy;
#[cfg(feature = "in-fluentbit-metrics")]
pub mod fluentbit_metrics;
#[cfg(feature = "in-stdin")]
pub mod stdin;
#[cfg(feature = "in-tail")]
pub mod tail;

#[allow(unused_variables)]
pub(crate) fn register(r: &mut Registry) {
    #[cfg(feature = "in-dummy")]
    r.register(&dummy::DESCRIPTOR);
    #[cfg(feature = "in-fluentbit-metrics")]
    r.register(&fluentbit_metrics::DESCRIPTOR);
    #[cfg(feature = "in-stdin")]
    r.register(&stdin::DESCRIPTOR);
    #[cfg(feature = "in-tail")]
    r.register(&tail::DESCRIPTOR);
}
