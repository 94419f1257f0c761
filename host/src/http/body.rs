//! Request bodies of bounded size, sent with a `Content-Length` or chunked
//! (`Transfer-Encoding: chunked`, RFC 9112 §7.1: `curl -T -`, and clients that stream what
//! they send). warp's `content_length_limit` refuses a body without a `Content-Length` with
//! 411, so a script piping its JSON into curl was told "length required".

use futures_util::StreamExt;
use hyper::body::{Buf, Bytes};
use warp::Filter;

/// Why a body was not taken: answered by [`super::rejected`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// Over the route's limit, in bytes: 413 `too-big`.
    TooBig(u64),
    /// The client stopped sending it part way (the connection broke): 400 `bad-request`.
    Broken,
    /// Nothing of it came for [`BODY_IDLE`]: 408 `timeout` (a client that starts a body and
    /// stalls would otherwise hold its connection for good).
    Stalled,
}

/// The longest wait for the next part of a body.
pub(super) const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(10);

/// Past its limit, a body is still read (and dropped) up to this many bytes in all before the
/// 413 goes out: a client streaming a chunked body (`curl -T -`) reads no answer until it has
/// sent it, and a host that answered and closed with the body unread reset the connection, so
/// 6 of 20 such clients of 200 KB–1 MB saw a broken pipe instead of the 413. A larger one
/// still gets the reset.
pub(super) const DRAIN_MAX: u64 = 16 << 20;

impl warp::reject::Reject for Refused {}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooBig(max) => write!(f, "the body is over this route's {max} bytes"),
            Self::Broken => f.write_str("the body broke off before its end"),
            Self::Stalled => write!(f, "no part of the body came for {} s", BODY_IDLE.as_secs()),
        }
    }
}

/// The whole body, of at most `max` bytes: one whose `Content-Length` says more is refused
/// before it is read, a chunked one as soon as its chunks pass `max` ([`Refused`]).
pub(super) fn within(
    max: u64,
) -> impl Filter<Extract = (Bytes,), Error = warp::Rejection> + Copy + Send + Sync + 'static {
    warp::header::optional::<u64>("content-length")
        .and(warp::body::stream())
        .and_then(move |length: Option<u64>, body| async move {
            collect(length, body, max)
                .await
                .map_err(warp::reject::custom)
        })
}

/// The chunks of `body` joined, unless its `length` or what arrives passes `max` bytes, or it
/// breaks off.
async fn collect<E>(
    length: Option<u64>,
    body: impl futures_util::Stream<Item = Result<impl Buf, E>>,
    max: u64,
) -> Result<Bytes, Refused> {
    if length.is_some_and(|n| n > max) {
        return Err(Refused::TooBig(max));
    }
    let mut body = std::pin::pin!(body);
    let mut out = Vec::with_capacity(length.unwrap_or(0).min(max) as usize);
    while let Some(mut chunk) = next(&mut body).await? {
        let mut read = (out.len() + chunk.remaining()) as u64;
        if read > max {
            // Read the rest (up to DRAIN_MAX) so that the 413 reaches the client.
            while read <= DRAIN_MAX {
                match next(&mut body).await {
                    Ok(Some(c)) => read += c.remaining() as u64,
                    Ok(None) | Err(_) => break,
                }
            }
            return Err(Refused::TooBig(max));
        }
        out.extend_from_slice(&chunk.copy_to_bytes(chunk.remaining()));
    }
    Ok(Bytes::from(out))
}

/// The next part of `body`, waiting at most [`BODY_IDLE`] for it.
async fn next<B: Buf, E>(
    body: &mut std::pin::Pin<&mut impl futures_util::Stream<Item = Result<B, E>>>,
) -> Result<Option<B>, Refused> {
    match tokio::time::timeout(BODY_IDLE, body.next()).await {
        Ok(Some(Ok(chunk))) => Ok(Some(chunk)),
        Ok(Some(Err(_))) => Err(Refused::Broken),
        Ok(None) => Ok(None),
        Err(_) => Err(Refused::Stalled),
    }
}

#[cfg(test)]
mod tests {
    use super::{collect, Refused};
    use futures_util::StreamExt;
    use hyper::body::Bytes;

    fn chunks(parts: &[&'static str]) -> impl futures_util::Stream<Item = Result<Bytes, ()>> {
        let parts: Vec<_> = parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect();
        futures_util::stream::iter(parts)
    }

    #[tokio::test]
    async fn a_body_with_or_without_a_length_is_taken_up_to_the_limit() {
        assert_eq!(
            collect(Some(5), chunks(&["hello"]), 8).await,
            Ok(Bytes::from("hello"))
        );
        // No Content-Length (a chunked body): its chunks joined.
        assert_eq!(
            collect(None, chunks(&["chu", "nk", "ed"]), 8).await,
            Ok(Bytes::from("chunked"))
        );
        assert_eq!(collect(None, chunks(&[]), 8).await, Ok(Bytes::new()));
        // Over the limit: said by its length (nothing read), or found reading it.
        assert_eq!(
            collect(Some(9), chunks(&[]), 8).await,
            Err(Refused::TooBig(8))
        );
        assert_eq!(
            collect(None, chunks(&["1234", "5678", "9"]), 8).await,
            Err(Refused::TooBig(8))
        );
        // A length that lies low does not let more in.
        assert_eq!(
            collect(Some(2), chunks(&["123456789"]), 8).await,
            Err(Refused::TooBig(8))
        );
        let broken = futures_util::stream::iter(vec![Ok(Bytes::from("ab")), Err(())]);
        assert_eq!(collect(None, broken, 8).await, Err(Refused::Broken));
    }

    /// Past the limit the rest is read and dropped (up to DRAIN_MAX) before the refusal, so
    /// that a client still sending reads the 413 instead of a reset.
    #[tokio::test]
    async fn a_body_past_the_limit_is_read_to_its_end_before_the_refusal() {
        let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = read.clone();
        let parts = futures_util::stream::iter(0..100).map(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok::<_, ()>(Bytes::from_static(&[b'a'; 1000]))
        });
        assert_eq!(collect(None, parts, 8).await, Err(Refused::TooBig(8)));
        assert_eq!(read.load(std::sync::atomic::Ordering::Relaxed), 100);
    }

    /// A body that stops coming is given up after BODY_IDLE, not waited for for good.
    #[tokio::test]
    async fn a_body_that_stalls_is_given_up() {
        tokio::time::pause();
        let stalls = futures_util::stream::iter(vec![Ok::<_, ()>(Bytes::from("ab"))])
            .chain(futures_util::stream::pending());
        let started = tokio::time::Instant::now();
        assert_eq!(collect(None, stalls, 8).await, Err(Refused::Stalled));
        let waited = started.elapsed();
        assert!(
            waited >= super::BODY_IDLE && waited < super::BODY_IDLE * 2,
            "{waited:?}"
        );
    }
}
