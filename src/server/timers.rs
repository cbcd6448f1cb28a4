//! Connection deadlines at a cost that does not grow with idle connections.
//! Every connection waiting on the same kind of timeout shares its length,
//! so a deadline set now is never earlier than one set before it: each kind
//! is a FIFO list, kept in deadline order by appending at the tail, and only
//! list heads are ever looked at. Arming, moving and cancelling are O(1);
//! an expiry pass touches only the connections that expired.
use crate::sys::mem::Slab;

/// The timeouts a connection can be waiting on; each has its own list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Timer {
    /// Keep-alive, between requests (`--idle-timeout`).
    Idle = 0,
    /// From a request's first byte to the end of its head (`--head-timeout`).
    Head = 1,
    /// Between reads of a request body (`--body-timeout`).
    Body = 2,
    /// Between writes to a client that stopped reading (`--send-timeout`).
    Send = 3,
    /// Draining a client after a closing error response.
    Linger = 4,
}

const KINDS: usize = 5;
const NONE: u32 = u32::MAX;

/// A slot's place in its list.
#[derive(Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
    /// Monotonic milliseconds.
    deadline: u64,
    /// `Timer as u8`, or `UNARMED`.
    kind: u8,
}

const UNARMED: u8 = u8::MAX;

#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// The deadlines of one worker's connections, by slot number.
pub struct Timers {
    /// INVARIANT: links[s] is in lists[links[s].kind] iff kind != UNARMED,
    /// and each list's deadlines never decrease from head to tail.
    links: Slab<Link>,
    lists: [List; KINDS],
}

impl Timers {
    /// Room for slots 0..cap (address space only, touched as slots are).
    pub fn new(cap: usize) -> crate::sys::Result<Timers> {
        Ok(Timers { links: Slab::new(cap)?, lists: [List { head: NONE, tail: NONE }; KINDS] })
    }

    fn link(&mut self, slot: u32) -> &mut Link {
        while self.links.len() <= slot as usize {
            let _ = self.links.push(Link { prev: NONE, next: NONE, deadline: 0, kind: UNARMED });
        }
        self.links.get_mut(slot as usize).expect("pushed above")
    }

    /// Sets `slot` to expire at `deadline` on `kind`'s list, moving it
    /// from whatever list it was on. `deadline` must not be earlier than
    /// any other on that list (it is `now` plus the list's timeout).
    pub fn arm(&mut self, slot: u32, kind: Timer, deadline: u64) {
        self.cancel(slot);
        let k = kind as usize;
        let tail = self.lists[k].tail;
        *self.link(slot) = Link { prev: tail, next: NONE, deadline, kind: kind as u8 };
        match tail {
            NONE => self.lists[k].head = slot,
            t => self.link(t).next = slot,
        }
        self.lists[k].tail = slot;
    }

    /// Takes `slot` off its list, if it is on one.
    pub fn cancel(&mut self, slot: u32) {
        let Link { prev, next, kind, .. } = *self.link(slot);
        if kind == UNARMED {
            return;
        }
        let k = kind as usize;
        match prev {
            NONE => self.lists[k].head = next,
            p => self.link(p).next = next,
        }
        match next {
            NONE => self.lists[k].tail = prev,
            n => self.link(n).prev = prev,
        }
        *self.link(slot) = Link { prev: NONE, next: NONE, deadline: 0, kind: UNARMED };
    }

    /// The timer `slot` waits on, if any.
    #[cfg(test)]
    pub fn armed(&mut self, slot: u32) -> Option<Timer> {
        Some(match self.link(slot).kind {
            0 => Timer::Idle,
            1 => Timer::Head,
            2 => Timer::Body,
            3 => Timer::Send,
            4 => Timer::Linger,
            _ => return None,
        })
    }

    /// Forgets slots `len` and up, whose memory goes back to the kernel,
    /// when none of them is armed (the table only drops free slots, and a
    /// free slot has no timer); false, and nothing changed, otherwise.
    pub fn truncate(&mut self, len: usize) -> bool {
        let armed = (len..self.links.len()).any(|s| self.links.get(s).is_some_and(|l| l.kind != UNARMED));
        if !armed {
            self.links.truncate(len.min(self.links.len()));
        }
        !armed
    }

    /// The earliest deadline of all, if any slot is armed.
    pub fn next_deadline(&self) -> Option<u64> {
        self.lists
            .iter()
            .filter(|l| l.head != NONE)
            .filter_map(|l| self.links.get(l.head as usize).map(|x| x.deadline))
            .min()
    }

    /// A slot whose deadline is at or before `now`, taken off its list, with
    /// the timer that expired; None when no deadline has passed.
    pub fn pop_expired(&mut self, now: u64) -> Option<(u32, Timer)> {
        for k in [Timer::Idle, Timer::Head, Timer::Body, Timer::Send, Timer::Linger] {
            let head = self.lists[k as usize].head;
            if head != NONE && self.link(head).deadline <= now {
                self.cancel(head);
                return Some((head, k));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_expire_in_order_and_moves_are_o1() {
        let mut t = Timers::new(16).unwrap();
        t.arm(3, Timer::Idle, 100);
        t.arm(1, Timer::Idle, 110);
        t.arm(2, Timer::Head, 50);
        t.arm(5, Timer::Idle, 120);
        assert_eq!(t.next_deadline(), Some(50));
        // Slot 3 made progress: it moves to the tail with a later deadline.
        t.arm(3, Timer::Idle, 130);
        assert_eq!(t.pop_expired(49), None);
        assert_eq!(t.pop_expired(60), Some((2, Timer::Head)));
        assert_eq!(t.pop_expired(60), None);
        assert_eq!(t.next_deadline(), Some(110));
        t.cancel(5);
        assert_eq!(t.armed(5), None);
        assert_eq!(t.pop_expired(1000), Some((1, Timer::Idle)));
        assert_eq!(t.pop_expired(1000), Some((3, Timer::Idle)));
        assert_eq!(t.pop_expired(1000), None);
        assert_eq!(t.next_deadline(), None);
        // Cancelling what is not armed, and re-arming on another list.
        t.cancel(7);
        t.arm(7, Timer::Send, 10);
        t.arm(7, Timer::Linger, 20);
        assert_eq!(t.armed(7), Some(Timer::Linger));
        assert_eq!(t.pop_expired(15), None);
        assert_eq!(t.pop_expired(20), Some((7, Timer::Linger)));
    }

    #[test]
    fn truncate_only_past_the_last_armed_slot() {
        let mut t = Timers::new(64).unwrap();
        t.arm(40, Timer::Idle, 10);
        t.arm(2, Timer::Idle, 20);
        t.cancel(50); // touches links up to 50
        assert!(!t.truncate(10), "slot 40 is armed");
        assert_eq!(t.armed(40), Some(Timer::Idle));
        t.cancel(40);
        assert!(t.truncate(10));
        assert_eq!(t.links.len(), 10);
        assert_eq!(t.pop_expired(100), Some((2, Timer::Idle)));
        // A dropped slot comes back unarmed when it is used again.
        assert_eq!(t.armed(40), None);
        t.arm(40, Timer::Send, 30);
        assert_eq!(t.pop_expired(100), Some((40, Timer::Send)));
    }

    #[test]
    fn middle_and_tail_removal_keep_the_list_whole() {
        let mut t = Timers::new(8).unwrap();
        for s in 0..5 {
            t.arm(s, Timer::Body, 10 + u64::from(s));
        }
        t.cancel(2); // middle
        t.cancel(4); // tail
        t.arm(6, Timer::Body, 20);
        let mut order = std::vec::Vec::new();
        while let Some((s, _)) = t.pop_expired(100) {
            order.push(s);
        }
        assert_eq!(order, [0, 1, 3, 6]);
    }
}
