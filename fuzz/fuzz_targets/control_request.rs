//! Any line on the control socket: a request or a JSON error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<roombox::control::Request>(data);
});
