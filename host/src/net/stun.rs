//! The STUN messages (RFC 8489) the host sends and takes to learn its public address: a
//! Binding Request (§6.1) with a FINGERPRINT (§14.7), and the XOR-MAPPED-ADDRESS (§14.2) of
//! the Binding success response (§6.3.1). Encoding and parsing are `stun-types`'; this module
//! says which messages Glint makes and which it takes. No I/O.
//!
//! Header (§5, 20 bytes, big-endian): type (2; its top two bits 0; Binding Request 0x0001,
//! success 0x0101, error 0x0111), length of the attributes (2, a multiple of 4), the magic
//! cookie 0x2112A442 (4), the transaction id (12, random). The request is 28 bytes: the header
//! and FINGERPRINT. STUN shares the media port with str0m's traffic (its own STUN, DTLS, SRTP),
//! so [`response_id`] is a cheap first look and [`parse_binding_response`] the full check.
//!
//! Parsing never panics on what arrives: anything unusable is a [`ResponseError`].

use std::net::SocketAddr;

use stun_types::attribute::{Attribute as _, ErrorCode, XorMappedAddress};
use stun_types::message::{
    Message, MessageClass, MessageHeader, MessageType, MessageWrite, MessageWriteExt,
    MessageWriteVec, BINDING,
};

/// Length of the STUN header, bytes (RFC 8489 §5).
pub const HEADER_LEN: usize = 20;
/// The magic cookie, bytes 4–7 of every RFC 5389/8489 message.
const MAGIC_COOKIE: [u8; 4] = 0x2112_A442_u32.to_be_bytes();
/// A Binding message's type with its two class bits (0x0110) cleared.
const BINDING_TYPE: u16 = 0x0001;
/// The class bits of a message type: request 0x0000, indication 0x0010, success 0x0100,
/// error 0x0110 (§5, figure 3). A response has 0x0100 set.
const CLASS_BITS: u16 = 0x0110;
const RESPONSE_BIT: u16 = 0x0100;
/// The comprehension-required attributes (0x0000–0x7FFF) this client knows (§18.3). A
/// response that carries another is unusable (§6.3.1).
const KNOWN_REQUIRED: [u16; 11] = [
    0x0001, // MAPPED-ADDRESS
    0x0006, // USERNAME
    0x0008, // MESSAGE-INTEGRITY
    0x0009, // ERROR-CODE
    0x000A, // UNKNOWN-ATTRIBUTES
    0x0014, // REALM
    0x0015, // NONCE
    0x001C, // MESSAGE-INTEGRITY-SHA256
    0x001D, // PASSWORD-ALGORITHM
    0x001E, // USERHASH
    0x0020, // XOR-MAPPED-ADDRESS
];

/// A STUN transaction id: 96 random bits (RFC 8489 §5), which is what tells our response
/// from anything else that reaches the port (and from a forged one, §16.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransactionId(pub [u8; 12]);

impl TransactionId {
    /// A new id from the operating system's random source.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut id = [0u8; 12];
        getrandom::fill(&mut id)?;
        Ok(Self(id))
    }

    fn wire(self) -> stun_types::message::TransactionId {
        let mut wide = [0u8; 16];
        wide[4..].copy_from_slice(&self.0);
        u128::from_be_bytes(wide).into()
    }
}

/// Why a datagram is not a usable answer to our Binding Request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("not a well-formed STUN message: {0}")]
    Malformed(String),
    #[error("not a Binding response")]
    NotBindingResponse,
    #[error("the response to another transaction")]
    OtherTransaction,
    #[error("the server answered with error {code}")]
    ErrorResponse { code: u16 },
    #[error("an unknown comprehension-required attribute {0:#06x}")]
    UnknownAttribute(u16),
    #[error("no usable XOR-MAPPED-ADDRESS")]
    NoAddress,
}

/// A Binding Request with transaction `id`: the header and a FINGERPRINT, 28 bytes. No
/// credentials: a STUN server answers Binding without them (RFC 8489 §9), and coturn does
/// even when it also relays.
pub fn binding_request(id: TransactionId) -> Vec<u8> {
    let mtype = MessageType::from_class_method(MessageClass::Request, BINDING);
    let mut msg = Message::builder(mtype, id.wire(), MessageWriteVec::with_capacity(28));
    // A fresh message has no FINGERPRINT and room for one: this cannot fail.
    msg.add_fingerprint()
        .expect("a fingerprint fits a fresh message");
    msg.finish()
}

/// The transaction id of a datagram that looks like a Binding response (success or error),
/// from its first 20 bytes only (type, magic cookie); `None` for anything else: RTP, RTCP,
/// DTLS, and STUN requests or indications. Cheap enough for every datagram of the port.
pub fn response_id(data: &[u8]) -> Option<TransactionId> {
    let header = data.get(..HEADER_LEN)?;
    let mtype = u16::from_be_bytes([header[0], header[1]]);
    let binding_response = mtype & !CLASS_BITS == BINDING_TYPE && mtype & RESPONSE_BIT != 0;
    if !binding_response || header[4..8] != MAGIC_COOKIE {
        return None;
    }
    let mut id = [0u8; 12];
    id.copy_from_slice(&header[8..20]);
    Some(TransactionId(id))
}

/// The mapped address of `data`, a Binding success response to transaction `id`: its
/// XOR-MAPPED-ADDRESS (RFC 8489 §14.2, §6.3.1), which must be a unicast address with a port.
/// The whole datagram must be the message (its length field says so), a FINGERPRINT, when
/// present, must match (§14.7), and no unknown comprehension-required attribute may be there.
/// An error response is [`ResponseError::ErrorResponse`] with its code (§14.8).
pub fn parse_binding_response(data: &[u8], id: TransactionId) -> Result<SocketAddr, ResponseError> {
    let header = MessageHeader::from_bytes(data).map_err(malformed)?;
    if usize::from(header.data_length()) + HEADER_LEN != data.len() {
        return Err(ResponseError::Malformed(format!(
            "{} bytes for a message of {}",
            data.len(),
            usize::from(header.data_length()) + HEADER_LEN
        )));
    }
    let msg = Message::from_bytes(data).map_err(malformed)?;
    if !msg.has_method(BINDING) || !msg.is_response() {
        return Err(ResponseError::NotBindingResponse);
    }
    if msg.transaction_id() != id.wire() {
        return Err(ResponseError::OtherTransaction);
    }
    if let Some((_, attr)) = msg.iter_attributes().find(|(_, a)| {
        a.get_type().value() < 0x8000 && !KNOWN_REQUIRED.contains(&a.get_type().value())
    }) {
        return Err(ResponseError::UnknownAttribute(attr.get_type().value()));
    }
    if msg.has_class(MessageClass::Error) {
        let code = msg.attribute::<ErrorCode>().map_or(0, |e| e.code());
        return Err(ResponseError::ErrorResponse { code });
    }
    let mapped = msg
        .attribute::<XorMappedAddress>()
        .map_err(|_| ResponseError::NoAddress)?
        .addr(id.wire());
    let ip = mapped.ip();
    if mapped.port() == 0 || ip.is_unspecified() || ip.is_multicast() || is_broadcast(mapped) {
        return Err(ResponseError::NoAddress);
    }
    Ok(mapped)
}

fn is_broadcast(addr: SocketAddr) -> bool {
    matches!(addr, SocketAddr::V4(a) if a.ip().is_broadcast())
}

fn malformed(e: impl std::fmt::Display) -> ResponseError {
    ResponseError::Malformed(e.to_string())
}

/// Test helpers: the responses a STUN server would send.
#[cfg(test)]
pub mod testing {
    use super::*;
    use stun_types::attribute::Software;

    /// A Binding success response to `id` carrying `mapped` (and SOFTWARE and FINGERPRINT, as
    /// coturn sends).
    pub fn success(id: TransactionId, mapped: SocketAddr) -> Vec<u8> {
        let mtype = MessageType::from_class_method(MessageClass::Success, BINDING);
        let mut msg = Message::builder(mtype, id.wire(), MessageWriteVec::new());
        let software = Software::new("test").expect("short");
        msg.add_attribute(&XorMappedAddress::new(mapped, id.wire()))
            .expect("fits");
        msg.add_attribute(&software).expect("fits");
        msg.add_fingerprint().expect("fits");
        msg.finish()
    }

    /// A Binding error response to `id` with `code`.
    pub fn error(id: TransactionId, code: u16) -> Vec<u8> {
        let mtype = MessageType::from_class_method(MessageClass::Error, BINDING);
        let mut msg = Message::builder(mtype, id.wire(), MessageWriteVec::new());
        let error = ErrorCode::builder(code).build().expect("a valid code");
        msg.add_attribute(&error).expect("fits");
        msg.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{error, success};
    use super::*;

    const ID: TransactionId = TransactionId([7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn a_binding_request_is_a_header_and_a_fingerprint() {
        let req = binding_request(ID);
        assert_eq!(req.len(), 28);
        assert_eq!(
            &req[..4],
            &[0x00, 0x01, 0x00, 0x08],
            "Binding Request, 8 bytes of attributes"
        );
        assert_eq!(&req[4..8], &MAGIC_COOKIE);
        assert_eq!(&req[8..20], &ID.0);
        assert_eq!(&req[20..24], &[0x80, 0x28, 0x00, 0x04], "FINGERPRINT");
        // The CRC-32 of the rest, XOR 0x5354554e (RFC 8489 §14.7), checked by the parser.
        let msg = Message::from_bytes(&req).expect("parses");
        assert!(msg.has_class(MessageClass::Request));
        // A request is not a response, whatever its id.
        assert_eq!(response_id(&req), None);
    }

    #[test]
    fn the_mapped_address_of_a_success_is_taken_with_its_port() {
        let mapped = addr("203.0.113.7:40123");
        let resp = success(ID, mapped);
        assert_eq!(response_id(&resp), Some(ID));
        assert_eq!(parse_binding_response(&resp, ID), Ok(mapped));
        let v6 = addr("[2001:db8::5]:3000");
        assert_eq!(parse_binding_response(&success(ID, v6), ID), Ok(v6));
    }

    #[test]
    fn rfc5769_sample_ipv4_response_is_read() {
        // RFC 5769 §2.2, without its MESSAGE-INTEGRITY (a plain Binding has none): SOFTWARE
        // "test vector", XOR-MAPPED-ADDRESS 192.0.2.1:32853.
        let id = TransactionId([
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ]);
        let mut m = vec![0x01, 0x01, 0x00, 0x1c, 0x21, 0x12, 0xa4, 0x42];
        m.extend_from_slice(&id.0);
        m.extend_from_slice(&[
            0x80, 0x22, 0x00, 0x0b, b't', b'e', b's', b't', b' ', b'v', b'e', b'c', b't', b'o',
            b'r', 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
        ]);
        assert_eq!(parse_binding_response(&m, id), Ok(addr("192.0.2.1:32853")));
    }

    #[test]
    fn unusable_responses_say_why() {
        let mapped = addr("203.0.113.7:40123");
        let other = TransactionId([9; 12]);
        assert_eq!(
            parse_binding_response(&success(other, mapped), ID),
            Err(ResponseError::OtherTransaction)
        );
        assert_eq!(
            parse_binding_response(&error(ID, 400), ID),
            Err(ResponseError::ErrorResponse { code: 400 })
        );
        assert_eq!(response_id(&error(ID, 400)), Some(ID));
        let mut broken = success(ID, mapped);
        let last = broken.len() - 1;
        broken[last] ^= 1; // the fingerprint no longer matches
        assert!(matches!(
            parse_binding_response(&broken, ID),
            Err(ResponseError::Malformed(_))
        ));
        let mut longer = success(ID, mapped);
        longer.push(0);
        assert!(matches!(
            parse_binding_response(&longer, ID),
            Err(ResponseError::Malformed(_))
        ));
        let short = &success(ID, mapped)[..24];
        assert!(matches!(
            parse_binding_response(short, ID),
            Err(ResponseError::Malformed(_))
        ));
        for bad in [
            "0.0.0.0:5000",
            "203.0.113.7:0",
            "224.0.0.1:5000",
            "255.255.255.255:9",
        ] {
            assert_eq!(
                parse_binding_response(&success(ID, addr(bad)), ID),
                Err(ResponseError::NoAddress),
                "{bad}"
            );
        }
        // A success with no mapped address.
        let mtype = MessageType::from_class_method(MessageClass::Success, BINDING);
        let bare = Message::builder(mtype, ID.wire(), MessageWriteVec::new()).finish();
        assert_eq!(
            parse_binding_response(&bare, ID),
            Err(ResponseError::NoAddress)
        );
    }

    #[test]
    fn an_unknown_comprehension_required_attribute_makes_a_response_unusable() {
        let mut m = success(ID, addr("203.0.113.7:40123"));
        // Drop the FINGERPRINT (8 bytes), add attribute 0x7777 (4 bytes of value).
        m.truncate(m.len() - 8);
        m.extend_from_slice(&[0x77, 0x77, 0x00, 0x04, 1, 2, 3, 4]);
        let len = (m.len() - HEADER_LEN) as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            parse_binding_response(&m, ID),
            Err(ResponseError::UnknownAttribute(0x7777))
        );
    }

    #[test]
    fn other_traffic_of_the_port_is_not_a_response() {
        // RTP, RTCP, a DTLS record, a browser's Binding Request, too short.
        let mut rtp = vec![0x80, 0x60, 0, 1];
        rtp.resize(40, 0);
        let mut rtcp = vec![0x81, 0xc9, 0, 7];
        rtcp.resize(32, 0);
        let mut dtls = vec![22, 0xfe, 0xfd];
        dtls.resize(60, 0);
        for d in [
            &rtp[..],
            &rtcp,
            &dtls,
            &binding_request(ID),
            &[0x01, 0x01, 0, 0],
        ] {
            assert_eq!(response_id(d), None, "{d:02x?}");
        }
        // A response whose cookie is wrong (RFC 3489) is not taken either.
        let mut old = success(ID, addr("203.0.113.7:1"));
        old[4] = 0;
        assert_eq!(response_id(&old), None);
    }
}
