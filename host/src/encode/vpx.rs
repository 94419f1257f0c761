//! libvpx VP8 realtime settings, for browsers without H.264.

use super::{Backend, EncoderSettings};

pub fn backend(_s: &EncoderSettings) -> Backend {
    Backend {
        name: "libvpx",
        options: vec![
            ("deadline", "realtime".to_owned()),
            ("cpu-used", "16".to_owned()),
            ("lag-in-frames", "0".to_owned()),
            ("auto-alt-ref", "0".to_owned()),
            ("error-resilient", "1".to_owned()),
            ("static-thresh", "0".to_owned()),
            ("max-intra-rate", "300".to_owned()),
        ],
        threads: 2,
        gop: None,
        cbr: true,
    }
}
