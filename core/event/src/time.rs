//! Event timestamps: Fluent Bit's EventTime (seconds and nanoseconds).

use std::time::{SystemTime, UNIX_EPOCH};

/// MessagePack extension type that Fluent Bit uses for event timestamps.
pub const EVENT_TIME_EXT: i8 = 0;

/// A point in time with nanosecond precision, as Fluent Bit's `flb_time`.
///
/// On the wire it is the EventTime extension: a fixext 8 of type 0 holding big-endian u32
/// seconds and u32 nanoseconds. Integer and float seconds are accepted when decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventTime {
    pub sec: i64,
    pub nsec: u32,
}

impl EventTime {
    pub const fn new(sec: i64, nsec: u32) -> Self {
        Self { sec, nsec }
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self::new(d.as_secs() as i64, d.subsec_nanos())
    }

    /// From floating-point seconds since the epoch.
    pub fn from_f64(secs: f64) -> Self {
        if !secs.is_finite() {
            return Self::default();
        }
        let sec = secs.floor();
        let nsec = ((secs - sec) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
        Self::new(sec as i64, nsec)
    }

    /// Seconds since the epoch as a float (the `double` form of Fluent Bit's outputs).
    pub fn as_f64(&self) -> f64 {
        self.sec as f64 + f64::from(self.nsec) / 1e9
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(&self) -> i128 {
        i128::from(self.sec) * 1_000_000_000 + i128::from(self.nsec)
    }

    /// The 8 payload bytes of the EventTime extension.
    pub fn to_ext_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        // EventTime holds u32 seconds: times before 1970 or after 2106 wrap, as in Fluent Bit.
        b[..4].copy_from_slice(&(self.sec as u32).to_be_bytes());
        b[4..].copy_from_slice(&self.nsec.to_be_bytes());
        b
    }

    /// Reads the 8 payload bytes of the EventTime extension.
    pub fn from_ext_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != 8 {
            return None;
        }
        let sec = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let nsec = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
        Some(Self::new(i64::from(sec), nsec.min(999_999_999)))
    }

    /// Appends the MessagePack encoding (fixext 8, type 0).
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(0xd7);
        out.push(EVENT_TIME_EXT as u8);
        out.extend_from_slice(&self.to_ext_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_round_trip() {
        let t = EventTime::new(1_700_000_000, 123_456_789);
        assert_eq!(EventTime::from_ext_bytes(&t.to_ext_bytes()), Some(t));
        let mut out = Vec::new();
        t.encode(&mut out);
        assert_eq!(out.len(), 10);
        assert_eq!(&out[..2], &[0xd7, 0x00]);
    }

    #[test]
    fn float_seconds() {
        let t = EventTime::from_f64(1.5);
        assert_eq!(t, EventTime::new(1, 500_000_000));
        assert!((t.as_f64() - 1.5).abs() < 1e-9);
        assert_eq!(EventTime::from_f64(f64::NAN), EventTime::default());
    }
}
