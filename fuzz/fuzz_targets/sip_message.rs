//! Any datagram: the SIP parser must return a message or an error, and a parsed message must
//! print and parse back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roombox::sip::SipMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = SipMessage::parse(data) {
        let printed = message.to_string();
        assert_eq!(SipMessage::parse(printed.as_bytes()).ok(), Some(message), "print and parse agree");
    }
});
