//! libx264 settings for the lowest latency a browser can decode (constrained baseline).

use super::{Backend, EncoderSettings};

pub fn backend(s: &EncoderSettings) -> Backend {
    let kbps = s.bitrate_kbps;
    // VBV of about one frame: a frame may not be much larger than bitrate / fps.
    let vbv_kbit = kbps.div_ceil(s.fps).max(1);
    let params = [
        "keyint=infinite".to_owned(),
        "scenecut=0".to_owned(),
        "bframes=0".to_owned(),
        "rc-lookahead=0".to_owned(),
        "sync-lookahead=0".to_owned(),
        "sliced-threads=1".to_owned(),
        "slices=4".to_owned(),
        "repeat-headers=1".to_owned(),
        "aud=0".to_owned(),
        format!("vbv-maxrate={kbps}"),
        format!("vbv-bufsize={vbv_kbit}"),
    ]
    .join(":");
    Backend {
        name: "libx264",
        options: vec![
            ("preset", "ultrafast".to_owned()),
            ("tune", "zerolatency".to_owned()),
            ("profile", "baseline".to_owned()),
            ("forced-idr", "1".to_owned()),
            ("x264-params", params),
        ],
        threads: 2,
        gop: None,
        cbr: false,
    }
}
