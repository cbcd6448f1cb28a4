//! The buffers a connection borrows while it has a request in hand. A
//! connection between requests holds none (as nginx frees its buffers in
//! `ngx_http_set_keepalive`): an idle keep-alive connection costs its
//! small record, and memory follows the connections that are busy.
//!
//! One block a connection, laid out as input | request line | upload name |
//! output, rounded up to whole pages so that a free block can go back to
//! the kernel on its own. The output gets what the rounding leaves over:
//! 32 KiB blocks on 4 KiB pages, of which a small request touches two or
//! three pages.
use super::config::MAX_HEAD;
use super::files::NAME_BUF;
use crate::sys::mem;

/// The input area: the request-head limit.
pub const IN_BUF: usize = MAX_HEAD;
/// What the access log of a response needs after its request is gone from
/// the input (a response sent after its body): the request line, then (for
/// the combined and JSON formats) when it came and its `User-Agent` and
/// `Referer` (see `conn::keep_for_log`).
pub const LINE_BUF: usize = 1024;
/// The part of it the request line may take.
pub const LINE_KEEP: usize = 512;
/// Where the output area starts: after input, request line and upload name.
pub const OUT_START: usize = IN_BUF + LINE_BUF + NAME_BUF;
/// The smallest output area: pipelined responses, cached small files
/// included (16 of 1 KiB with their heads go out in one write). Pages of
/// it that a response does not reach are never touched.
const MIN_OUT: usize = 20 * 1024;
/// Free blocks kept in memory after a burst, ready for the next requests.
pub const WARM: usize = 64;
/// How long free blocks beyond `WARM` may stay in memory before they are
/// handed back: a burst is over when its blocks have been free this long.
pub const TRIM_AFTER_MS: u64 = 1000;

/// Bytes in one block: what the areas need, in whole pages.
pub fn block_size() -> usize {
    mem::round_to_page(OUT_START + MIN_OUT)
}

/// A block cut into its areas.
pub struct Parts<'a> {
    pub inb: &'a mut [u8],
    pub line: &'a mut [u8],
    pub name: &'a mut [u8],
    pub out: &'a mut [u8],
}

pub fn parts(block: &mut [u8]) -> Parts<'_> {
    let (inb, rest) = block.split_at_mut(IN_BUF);
    let (line, rest) = rest.split_at_mut(LINE_BUF);
    let (name, out) = rest.split_at_mut(NAME_BUF);
    Parts { inb, line, name, out }
}

/// The upload-name area alone.
pub fn name(block: &[u8]) -> &[u8] {
    &block[IN_BUF + LINE_BUF..OUT_START]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_fit_and_output_keeps_its_minimum() {
        let mut b = std::vec![0u8; block_size()];
        let p = parts(&mut b);
        assert_eq!((p.inb.len(), p.line.len(), p.name.len()), (IN_BUF, LINE_BUF, NAME_BUF));
        assert!(p.out.len() >= MIN_OUT);
        assert_eq!(block_size() % mem::page_size(), 0);
    }
}
