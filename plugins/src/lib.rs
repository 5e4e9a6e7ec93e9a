//! Plugins (to be written).
