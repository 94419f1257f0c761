//! Datagrams on the media port as the public-address discovery sees them (`net::reflexive`,
//! `net::stun`): a STUN server's answer, a forged or broken one, or anybody's traffic.
//!
//! Input: a flag byte, then the datagram. Flag bit 0: it comes from the STUN server's address
//! (else from another); bit 1: bytes 8–19 (the transaction id) are replaced by the id of the
//! query open now, so that the fuzzer reaches the parser behind the id check.
//!
//! Checked beyond "no panic": a response [`parse_binding_response`] takes is one that
//! [`response_id`] saw, with its own id, and its address is unicast with a port; the discovery
//! learns an address only from the server's address and the open transaction's id; a
//! datagram it leaves to the session moves none of its counters.

#![no_main]

use std::net::SocketAddr;
use std::time::Instant;

use glint::net::reflexive::{Discovery, Output, Server, StunCounters};
use glint::net::stun::{parse_binding_response, response_id, TransactionId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&flags, datagram)) = input.split_first() else {
        return;
    };
    let mut data = datagram.to_vec();
    let server: SocketAddr = "198.51.100.1:3478".parse().expect("address");
    let base: SocketAddr = "10.0.0.2:5000".parse().expect("address");
    let stranger: SocketAddr = "192.0.2.66:3478".parse().expect("address");

    // The parser alone, asked for the id the datagram carries.
    if let Some(own) = data.get(8..20) {
        let mut id = [0u8; 12];
        id.copy_from_slice(own);
        if let Ok(addr) = parse_binding_response(&data, TransactionId(id)) {
            assert_eq!(response_id(&data), Some(TransactionId(id)));
            assert!(addr.port() != 0 && !addr.ip().is_unspecified() && !addr.ip().is_multicast());
        }
    }

    // The discovery, with a query open.
    let counters = StunCounters::default();
    let mut d = Discovery::new(counters.clone());
    let now = Instant::now();
    d.handle_server(now, Server { addr: server, base });
    let mut open = None;
    while let Output::Transmit(t) = d.poll_output() {
        open = Some(t.contents[8..20].to_vec());
    }
    let open = open.expect("a query is sent at once");
    if flags & 2 != 0 && data.len() >= 20 {
        data[8..20].copy_from_slice(&open);
    }
    let source = if flags & 1 != 0 { server } else { stranger };
    let took = d.handle_datagram(now, source, &data);
    let learned = loop {
        match d.poll_output() {
            Output::Mapping(m) => break m,
            Output::Timeout(_) => break None,
            Output::Transmit(_) => {}
        }
    };
    if !took {
        assert_eq!(counters.ignored.get() + counters.answers.get() + counters.failures.get(), 0);
    }
    if let Some(m) = learned {
        assert!(took && source == server && data[8..20] == open[..], "learned {m:?}");
        assert_eq!(m.base, base);
        assert!(m.mapped.is_ipv4() && m.mapped.port() != 0);
        assert_eq!(d.mapping(), Some(m));
    }
});
