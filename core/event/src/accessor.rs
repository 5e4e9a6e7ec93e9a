//! Fluent Bit's record accessor: `$key`, `$key['sub'][0]`, parsed with nom.
//!
//! (Filled in with the filters that use it.)
