//! Any text as roombox.toml: a config or an error naming the problem, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = roombox::config::Config::parse(text, "fuzz.toml");
    }
});
