//! The event queue: what happens next, in time order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::time::Instant;

/// A queue of events of type `E`, popped in time order; events due at the
/// same instant come out in the order they were scheduled, so a run is a
/// function of its inputs and its seed alone.
#[derive(Clone, Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<(Instant, u64, Slot<E>)>>,
    seq: u64,
    now: Instant,
}

/// Wrapper so the payload takes no part in the ordering.
#[derive(Clone, Debug)]
struct Slot<E>(E);

impl<E> PartialEq for Slot<E> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<E> Eq for Slot<E> {}
impl<E> PartialOrd for Slot<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Slot<E> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), seq: 0, now: Instant(0) }
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current simulated time: the time of the last event popped.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Schedule `event` at `at` (not before now).
    pub fn schedule(&mut self, at: Instant, event: E) {
        let at = at.max(self.now);
        self.heap.push(Reverse((at, self.seq, Slot(event))));
        self.seq += 1;
    }

    /// When the next event is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// The next event and when it is due, without popping it.
    pub fn peek(&self) -> Option<(Instant, &E)> {
        self.heap.peek().map(|Reverse((t, _, Slot(e)))| (*t, e))
    }

    /// Pop the next event due at or before `until`, advancing the clock to
    /// its time; `None` (and the clock at `until`) when none is due.
    pub fn pop_until(&mut self, until: Instant) -> Option<(Instant, E)> {
        match self.next_due() {
            Some(t) if t <= until => {
                let Reverse((t, _, Slot(e))) = self.heap.pop().expect("peeked");
                // An event left behind by a jump of the clock comes out now.
                self.now = self.now.max(t);
                Some((self.now, e))
            }
            _ => {
                self.now = self.now.max(until);
                None
            }
        }
    }

    /// Move the clock to `t` (not back) without popping anything: the
    /// owner knows the events due by then change nothing.
    pub fn jump_to(&mut self, t: Instant) {
        self.now = self.now.max(t);
    }

    /// Every pending event, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.heap.iter().map(|Reverse((_, _, Slot(e)))| e)
    }

    /// Every pending event with its time and schedule order, in the order
    /// they will run; and the next schedule number (to save the queue).
    pub fn entries(&self) -> (Vec<(Instant, u64, &E)>, u64) {
        let mut v: Vec<_> = self.heap.iter().map(|Reverse((t, n, Slot(e)))| (*t, *n, e)).collect();
        v.sort_by_key(|(t, n, _)| (*t, *n));
        (v, self.seq)
    }

    /// A queue at `now` holding `entries` (time, schedule order, event),
    /// whose next event gets schedule number `seq`: the queue
    /// [`entries`](Self::entries) described. `None` if an entry's order is
    /// not below `seq` or two share one.
    pub fn from_entries(now: Instant, seq: u64, entries: Vec<(Instant, u64, E)>) -> Option<Self> {
        let mut orders: Vec<u64> = entries.iter().map(|e| e.1).collect();
        orders.sort_unstable();
        if orders.windows(2).any(|w| w[0] == w[1]) || orders.last().is_some_and(|&o| o >= seq) {
            return None;
        }
        let heap = entries.into_iter().map(|(t, n, e)| Reverse((t, n, Slot(e)))).collect();
        Some(EventQueue { heap, seq, now })
    }

    /// Whether nothing is scheduled: the network is quiet.
    pub fn is_quiet(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_time_then_schedule_order() {
        let mut q = EventQueue::new();
        q.schedule(Instant(20), "b");
        q.schedule(Instant(10), "a");
        q.schedule(Instant(20), "c");
        assert_eq!(q.pop_until(Instant(100)), Some((Instant(10), "a")));
        assert_eq!(q.pop_until(Instant(100)), Some((Instant(20), "b")));
        assert_eq!(q.pop_until(Instant(15)), None, "c is due at 20");
        assert_eq!(q.now(), Instant(20), "the clock never goes back");
        assert_eq!(q.pop_until(Instant(20)), Some((Instant(20), "c")));
        assert!(q.is_quiet());
    }

    #[test]
    fn an_event_left_behind_by_a_jump_comes_out_at_the_new_time() {
        let mut q = EventQueue::new();
        q.schedule(Instant(10), "late");
        q.jump_to(Instant(50));
        assert_eq!(q.pop_until(Instant(60)), Some((Instant(50), "late")));
        assert_eq!(q.now(), Instant(50));
    }

    #[test]
    fn advancing_with_nothing_due_moves_the_clock() {
        let mut q: EventQueue<()> = EventQueue::new();
        assert_eq!(q.pop_until(Instant(50)), None);
        assert_eq!(q.now(), Instant(50));
        q.schedule(Instant(10), ());
        assert_eq!(q.next_due(), Some(Instant(50)), "an event in the past is due now");
    }
}
