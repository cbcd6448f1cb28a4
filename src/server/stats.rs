//! The counts `metrics` shows. Each worker keeps its own (plain adds on
//! the request path, no atomics, no locks) and publishes them once a
//! wake-up into its slot of memory the supervisor shared before forking;
//! a scrape adds up every slot. When a worker exits, the supervisor adds
//! its counts into the slot of the workers gone, so totals never go down
//! across restarts and reloads.
use crate::http::metrics::Counters;
use crate::sys::mem::SharedWords;

/// Slots: two generations of workers (one serving, one draining after a
/// reload), and the last slot for the workers gone.
pub const SLOTS: usize = 2 * super::MAX_WORKERS + 1;
const RETIRED: usize = SLOTS - 1;

/// The shared slots.
pub struct Board {
    words: SharedWords,
}

impl Board {
    pub fn new() -> Option<Board> {
        SharedWords::new(SLOTS, Counters::WORDS).ok().map(|words| Board { words })
    }

    /// A worker's counts into its slot.
    pub fn publish(&self, slot: usize, c: &Counters) {
        self.words.store(slot, &c.words());
    }

    /// Every slot added up, with `own` (fresher than what its slot holds)
    /// in place of slot `own_slot`.
    pub fn total(&self, own_slot: usize, own: &Counters) -> Counters {
        let mut sum = *own;
        let mut w = [0u64; Counters::WORDS];
        for i in (0..SLOTS).filter(|&i| i != own_slot) {
            self.words.load(i, &mut w);
            sum.add(&Counters::from_words(&w));
        }
        sum
    }

    /// The supervisor, for a worker that exited: its counts join the
    /// retired slot (all but the open-connections gauge: its connections
    /// are closed), and its slot is cleared for the next worker.
    pub fn retire(&self, slot: usize) {
        if slot >= RETIRED {
            return;
        }
        let mut w = [0u64; Counters::WORDS];
        self.words.load(slot, &mut w);
        let mut gone = Counters::from_words(&w);
        gone.open = 0;
        self.words.load(RETIRED, &mut w);
        let mut all = Counters::from_words(&w);
        all.add(&gone);
        self.words.store(RETIRED, &all.words());
        self.words.store(slot, &[0u64; Counters::WORDS]);
    }
}

/// The supervisor's record of which worker writes which slot.
pub struct Seats {
    board: Option<Board>,
    owners: [i32; RETIRED],
}

impl Seats {
    /// Without the shared memory (mmap failed), workers count for nobody.
    pub fn new() -> Seats {
        Seats { board: Board::new(), owners: [0; RETIRED] }
    }

    pub fn board(&self) -> Option<&Board> {
        self.board.as_ref()
    }

    /// A slot no live worker writes.
    pub fn free(&self) -> usize {
        self.owners.iter().position(|&p| p == 0).unwrap_or(RETIRED)
    }

    pub fn seat(&mut self, slot: usize, pid: i32) {
        if let Some(o) = self.owners.get_mut(slot) {
            *o = pid;
        }
    }

    /// Worker `pid` exited: its counts retire, its slot is free.
    pub fn gone(&mut self, pid: i32) {
        if let Some(slot) = self.owners.iter().position(|&p| p == pid) {
            self.owners[slot] = 0;
            if let Some(b) = &self.board {
                b.retire(slot);
            }
        }
    }
}
