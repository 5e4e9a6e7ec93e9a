//! Parsers (to be written).
